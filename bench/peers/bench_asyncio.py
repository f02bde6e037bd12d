"""asyncio / uvloop peer for M1-M4 (run with /usr/bin/python3).

Usage: bench_asyncio.py asyncio|uvloop m1 YIELDS | m2 TASKS | m3 TASKS SECONDS
                                       | m4 TASKS LIMIT MS
Prints the same `WORKLOAD SYSTEM key=value` lines as the weft programs.
"""
import asyncio
import resource
import sys
import time


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def m1(system, n):
    async def yielder():
        for _ in range(n):
            await asyncio.sleep(0)

    t0 = time.perf_counter()
    await asyncio.gather(yielder(), yielder())
    dt = time.perf_counter() - t0
    print(f"M1 {system} ns_per_switch={dt * 1e9 / (2 * n):.1f}")


async def m2(system, n):
    async def give_int(i):
        return i & 0xFFFF

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(give_int(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    dt = time.perf_counter() - t0
    assert results[-1] == (n - 1) & 0xFFFF
    print(f"M2 {system} ns_per_task={dt * 1e9 / n:.1f} peak_rss_mb={peak_rss_mb():.1f}")


async def m3(system, n, secs):
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(asyncio.sleep(secs)) for _ in range(n)]
    await asyncio.gather(*tasks)
    dt = time.perf_counter() - t0
    print(f"M3 {system} wall_s={dt:.2f} peak_rss_mb={peak_rss_mb():.1f}")


async def m4(system, n, limit, ms):
    sem = asyncio.Semaphore(limit)

    async def worker():
        async with sem:
            await asyncio.sleep(ms / 1000.0)

    t0 = time.perf_counter()
    await asyncio.gather(*(asyncio.create_task(worker()) for _ in range(n)))
    dt = time.perf_counter() - t0
    ideal = n / limit * ms / 1000.0
    print(f"M4 {system} wall_s={dt:.3f} overhead_pct={(dt - ideal) / ideal * 100:.1f}")


def main():
    system, workload, args = sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]]
    fn = {"m1": m1, "m2": m2, "m3": m3, "m4": m4}[workload]
    if system == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(fn(system, *args))


if __name__ == "__main__":
    main()
