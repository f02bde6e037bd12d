"""N1 echo server peer: asyncio or uvloop, streams or Protocol.

usage: /usr/bin/python3 echo_asyncio.py asyncio|uvloop streams|protocol PORT
"""
import asyncio
import socket
import sys


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)


async def handle(reader, writer):
    # asyncio's start_server echo example, without the prints.
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(mode, port):
    loop = asyncio.get_running_loop()
    if mode == "streams":
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    else:
        server = await loop.create_server(EchoProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    loop_kind, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if loop_kind == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(mode, port))
