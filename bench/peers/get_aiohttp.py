"""N3 HTTP client peer: aiohttp on asyncio or uvloop. N GETs of URL over
keep-alive with at most C in flight; prints ok=N bytes=B.

usage: /usr/bin/python3 get_aiohttp.py asyncio|uvloop URL N C
"""
import asyncio
import sys

import aiohttp


async def main(url, n, c):
    ok = 0
    nbytes = 0
    left = n
    conn = aiohttp.TCPConnector(limit=c)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def worker():
            nonlocal ok, nbytes, left
            while left > 0:
                left -= 1
                async with session.get(url) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        ok += 1
                        nbytes += len(body)
        await asyncio.gather(*(worker() for _ in range(c)))
    print(f"ok={ok} bytes={nbytes}")
    return ok == n


if __name__ == "__main__":
    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.install()
    good = asyncio.run(main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    sys.exit(0 if good else 1)
