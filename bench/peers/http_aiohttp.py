"""N2 HTTP server peer: aiohttp.web on asyncio or uvloop; also W1's
WebSocket echo server at /ws (WebSocketResponse, no compression).

usage: /usr/bin/python3 http_aiohttp.py asyncio|uvloop PORT
"""
import sys

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, World!")


async def ws_echo(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for m in ws:
        if m.type == web.WSMsgType.TEXT:
            await ws.send_str(m.data)
        elif m.type == web.WSMsgType.BINARY:
            await ws.send_bytes(m.data)
    return ws


if __name__ == "__main__":
    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.install()
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/ws", ws_echo)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None,
                access_log=None, backlog=1024)
