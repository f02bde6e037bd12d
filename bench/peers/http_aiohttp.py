"""N2 HTTP server peer: aiohttp.web on asyncio or uvloop.

usage: /usr/bin/python3 http_aiohttp.py asyncio|uvloop PORT
"""
import sys

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, World!")


if __name__ == "__main__":
    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.install()
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None,
                access_log=None, backlog=1024)
