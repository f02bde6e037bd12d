"""P4 for asyncpg on uvloop: the same sub-workloads as bench/pg_p4.c
(asyncpg's own pgbench shape).

   WEFT_PG_DSN=... /usr/bin/python3 pg_asyncpg_p4.py SECONDS [CONNECTIONS [SUB,...]]

P4_OPS=N: each coroutine runs exactly N operations (no warm-up), as
bench_pg_p4's P4_OPS, for counts by difference (server CPU a row).
CONNECTIONS coroutines each hold a pooled connection: types (the pg_type
read, every value decoded into Python objects by fetch), bytea (100 x 1 KiB),
arrays (100 x int4[100], summed), copy (copy_records_to_table of 1,000 x 7)
and batch (executemany of the same rows). The tables are bench/pg_p4.c's."""
import asyncio, os, resource, sys, time

import asyncpg
import uvloop

TYPES = ("SELECT typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred,"
         " typisdefined, typdelim, typrelid, typelem, typarray FROM pg_type"
         " WHERE typtypmod = $1 AND typisdefined = $2")
SETUP = ("DROP TABLE IF EXISTS weft_p4_bytes, weft_p4_arrays, weft_p4_copy;"
         " CREATE UNLOGGED TABLE weft_p4_bytes (b bytea);"
         " INSERT INTO weft_p4_bytes SELECT convert_to(repeat('a', 1024), 'UTF8')"
         "   FROM generate_series(1, 100);"
         " CREATE UNLOGGED TABLE weft_p4_arrays (a int4[]);"
         " INSERT INTO weft_p4_arrays SELECT (SELECT array_agg(i) FROM generate_series(1, 100) i)"
         "   FROM generate_series(1, 100);"
         " CREATE UNLOGGED TABLE weft_p4_copy (a int4, b int4, c int4, d text, e float8, f int4,"
         "   g text)")
ROWS = [(10, 11, 12, "TESTTESTTEST", 10.333, 12341234, "123412341234")] * 1000


def dsn_kwargs(dsn):
    kv = dict(p.split("=", 1) for p in dsn.split())
    return dict(host=kv.get("host"), port=int(kv.get("port", 5432)), user=kv.get("user"),
                password=kv.get("password"), database=kv.get("dbname"),
                ssl=False if kv.get("sslmode") == "disable" else None)


async def one(c, sub):
    if sub == "types":
        rs = await c.fetch(TYPES, -1, True)
        assert rs
        return len(rs)
    if sub == "bytea":
        rs = await c.fetch("SELECT * FROM weft_p4_bytes")
        assert sum(len(r[0]) for r in rs) == 1024 * len(rs)
        return len(rs)
    if sub == "arrays":
        rs = await c.fetch("SELECT * FROM weft_p4_arrays")
        assert sum(sum(r[0]) for r in rs) == 5050 * len(rs)
        return len(rs)
    if sub == "copy":
        await c.copy_records_to_table("weft_p4_copy", records=ROWS,
                                      columns=["a", "b", "c", "d", "e", "f", "g"])
        return len(ROWS)
    await c.executemany("INSERT INTO weft_p4_copy VALUES ($1, $2, $3, $4, $5, $6, $7)", ROWS)
    return len(ROWS)


async def main(seconds, conns, subs):
    pool = await asyncpg.create_pool(min_size=conns, max_size=conns,
                                     **dsn_kwargs(os.environ["WEFT_PG_DSN"]))
    async with pool.acquire() as c:
        await c.execute(SETUP)
    loop = asyncio.get_running_loop()
    counts = [0, 0]

    fixed = int(os.environ.get("P4_OPS", "0"))  # each task runs exactly this many, no warm-up

    async def work(sub, deadline):
        async with pool.acquire() as c:
            k = 0
            while (k < fixed) if fixed else (loop.time() < deadline):
                k += 1
                n = await one(c, sub)  # (not `+= await`: it would read before the wait)
                counts[1] += n
                counts[0] += 1

    def cpu():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    for sub in ("types", "bytea", "arrays", "copy", "batch"):
        if sub not in subs:
            continue
        if not fixed:
            await asyncio.gather(*(work(sub, loop.time() + 0.5) for _ in range(conns)))
        counts[0] = counts[1] = 0
        t0, cpu0 = time.monotonic(), cpu()
        await asyncio.gather(*(work(sub, loop.time() + seconds) for _ in range(conns)))
        el, used = time.monotonic() - t0, cpu() - cpu0
        print(f"P4 asyncpg sub={sub} rows_per_s={counts[1] / el:.0f} ops_per_s={counts[0] / el:.0f}"
              f" client_cpu_us_per_row={used * 1e6 / counts[1]:.3f} conns={conns} seconds={el:.1f}",
              flush=True)
    await pool.close()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10,
                     (sys.argv[3] if len(sys.argv) > 3 else "types,bytea,arrays,copy,batch").split(",")))
