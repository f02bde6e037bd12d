"""P1-P3 for asyncpg on uvloop: the same workloads as bench/pg_bench.c.

   WEFT_PG_DSN=... /usr/bin/python3 pg_asyncpg.py P1|P2|P3 SECONDS [CONNECTIONS [hold|acquire]]

CONNECTIONS coroutines loop over a pool of CONNECTIONS: "hold" (default)
takes a connection once and keeps it, "acquire" acquires and releases per
iteration (asyncpg's release runs a reset query: one more round trip).
P3 uses executemany (which asyncpg pipelines)."""
import asyncio, os, resource, sys, time

import asyncpg
import uvloop


def dsn_kwargs(dsn):
    kv = dict(p.split("=", 1) for p in dsn.split())
    return dict(host=kv.get("host"), port=int(kv.get("port", 5432)), user=kv.get("user"),
                password=kv.get("password"), database=kv.get("dbname"),
                ssl=False if kv.get("sslmode") == "disable" else None)


async def main(workload, seconds, conns, per_query):
    pool = await asyncpg.create_pool(min_size=conns, max_size=conns,
                                     **dsn_kwargs(os.environ["WEFT_PG_DSN"]))
    rows_p3 = [(i, "a row of the batch") for i in range(1000)]
    if workload == "P3":
        async with pool.acquire() as c:
            await c.execute("DROP TABLE IF EXISTS weft_bench_p3;"
                            " CREATE UNLOGGED TABLE weft_bench_p3(a int, b text)")
    counts = [0, 0]

    async def work(deadline):
        loop = asyncio.get_running_loop()
        held = None if per_query else await pool.acquire()
        while loop.time() < deadline:
            c = held or await pool.acquire()
            try:
                if workload == "P1":
                    v = await c.fetchval("SELECT 1+1")
                    assert v == 2
                    counts[1] += 1
                elif workload == "P2":
                    rs = await c.fetch("SELECT * FROM generate_series(1,1000)")
                    s = 0
                    for r in rs:
                        s += r[0]
                    assert s == 500500
                    counts[1] += len(rs)
                else:
                    await c.executemany("INSERT INTO weft_bench_p3 VALUES ($1, $2)", rows_p3)
                    counts[1] += len(rows_p3)
            finally:
                if not held:
                    await pool.release(c)
            counts[0] += 1
        if held:
            await pool.release(held)

    loop = asyncio.get_running_loop()
    await asyncio.gather(*(work(loop.time() + 0.5) for _ in range(conns)))
    counts[0] = counts[1] = 0
    def cpu():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime
    t0, cpu0 = time.monotonic(), cpu()
    await asyncio.gather(*(work(loop.time() + seconds) for _ in range(conns)))
    el, used = time.monotonic() - t0, cpu() - cpu0
    name = "asyncpg-acquire" if per_query else "asyncpg"
    print(f"{workload} {name} queries_per_s={counts[0] / el:.0f} rows_per_s={counts[1] / el:.0f}"
          f" client_cpu_us_per_query={used * 1e6 / counts[0]:.1f} conns={conns} seconds={el:.1f}")
    await pool.close()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 10,
                     len(sys.argv) > 4 and sys.argv[4] == "acquire"))
