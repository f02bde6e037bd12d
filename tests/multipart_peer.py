#!/usr/bin/python3
"""multipart/form-data against aiohttp (test_http_multipart runs this).

  multipart_peer.py diff WEFT_URL DIR   the same bodies (aiohttp's FormData,
        curl -F, and hand-made raw ones) posted to weft's server and to an
        aiohttp server started here, each answering with the parts it read;
        weft must refuse what aiohttp refuses and, where both accept, read
        the same parts. Prints OK, or each disagreement and exits 1.
  multipart_peer.py serve PORT          only the aiohttp server (for weft's
        client), until killed.

Each server answers a list of {name, filename, content_type, len, sha256}
as JSON, or a 4xx status."""
import asyncio
import hashlib
import json
import os
import subprocess
import sys

import aiohttp
from aiohttp import web


async def parts(request):
    try:
        reader = await request.multipart()
        out = []
        while True:
            part = await reader.next()
            if part is None:
                break
            data = await part.read()
            out.append({"name": part.name, "filename": part.filename,
                        "content_type": part.headers.get("Content-Type"),
                        "len": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return web.json_response(out, headers={
            "X-Length": request.headers.get("Content-Length", "-"),
            "X-TE": request.headers.get("Transfer-Encoding", "-")})
    except Exception as e:  # aiohttp's refusals: ValueError, AssertionError...
        return web.Response(status=400, text="aiohttp: %r" % e)


async def start(port):
    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/parts", parts)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def formdata_cases(d):
    """Each a function making a fresh FormData (file objects are used up)."""
    big = os.path.join(d, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(3 << 20))
    small = os.path.join(d, "small.txt")
    with open(small, "wb") as f:
        f.write(b"line one\r\n--not a boundary\r\n\r\nend")

    def plain():
        fd = aiohttp.FormData()
        fd.add_field("a", "1")
        fd.add_field("b", "two words & more")
        fd.add_field("file", open(small, "rb"), filename="small.txt", content_type="text/plain")
        return fd

    def files():
        fd = aiohttp.FormData()
        fd.add_field("big", open(big, "rb"), filename="big.bin")
        fd.add_field("empty", b"", filename="empty.txt", content_type="text/plain")
        fd.add_field("utf8", "h\u00e9llo \u2603", content_type="text/plain; charset=utf-8")
        return fd

    def names():
        fd = aiohttp.FormData()
        fd.add_field("f", b"data", filename="a b\u00e9.txt")  # percent-encoded by aiohttp
        fd.add_field("q", "v", content_type="application/x-thing")
        return fd
    return [("formdata plain", plain), ("formdata files", files), ("formdata names", names)]


def curl_cases(d):
    small = os.path.join(d, "small.txt")
    big = os.path.join(d, "big.bin")
    return [
        ("curl fields", ["-F", "a=1", "-F", "b=x y", "-F", "c="]),
        ("curl files", ["-F", "f=@%s" % small, "-F", "g=@%s;type=image/png" % big]),
        ("curl filename", ["-F", 'f=@%s;filename=odd "quoted" name.txt' % small,
                           "-F", "h=<%s" % small]),
    ]


B = "XyZ"
CT = "multipart/form-data; boundary=" + B


# Where weft is stricter than aiohttp on purpose: a delimiter followed by
# anything but "--" or padding and CRLF. RFC 2046 forbids the boundary
# inside a part; aiohttp reads "--XyZjunk" as data (or, at the start, as a
# preamble, and then a form with no parts): weft refuses the body, since
# readers that disagree on where a part ends see different forms.
STRICTER = {"raw junk after boundary", "raw boundary in data"}


def raw_cases():
    ok = ("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
          "--XyZ--\r\n")
    return [
        ("raw simple", CT, ok),
        ("raw preamble", CT, "preamble\r\n" + ok),
        ("raw epilogue", CT, ok + "epilogue bytes"),
        ("raw padding", CT, ok.replace("--XyZ\r\n", "--XyZ  \r\n")),
        ("raw quoted boundary", 'multipart/form-data; boundary="XyZ"', ok),
        ("raw two parts", CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
         "--XyZ\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.txt\"\r\n"
         "Content-Type: text/plain\r\n\r\nhello\r\n--XyZ\r\nworld\r\n--XyZ--\r\n"),
        ("raw almost boundary", CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
         "x\r\n--XyY\r\n--Xy\r\n--XyZ--\r\n"),
        ("raw no closing", CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"),
        ("raw cut in head", CT, "--XyZ\r\nContent-Disposition: form-da"),
        ("raw no boundary param", "multipart/form-data", ok),
        ("raw not multipart", "text/plain", ok),
        ("raw no start", CT, "nothing here at all"),
        ("raw empty", CT, ""),
        ("raw junk after boundary", CT, ok.replace("--XyZ\r\nC", "--XyZjunk\r\nC", 1)),
        ("raw boundary in data", CT, ok.replace("1\r\n", "1\r\n--XyZjunk\r\n")),
        ("raw long boundary", "multipart/form-data; boundary=" + "b" * 71,
         ok.replace("XyZ", "b" * 71)),
    ]


async def post(session, url, data, headers=None):
    async with session.post(url, data=data, headers=headers) as r:
        body = await r.read()
        return r.status, body, r.headers


def summary(status, body):
    if status != 200:
        return ("refused", status)
    return ("parts", json.loads(body))


async def diff(weft_url, d):
    runner, port = await start(0)
    aio_url = "http://127.0.0.1:%d/parts" % port
    bad = []
    n = 0
    async with aiohttp.ClientSession() as s:
        def check(label, w, a):
            nonlocal n
            n += 1
            if a[0] == "refused" and w[0] != "refused":
                bad.append("%s: aiohttp refused (%s), weft read %s" % (label, a[1], w[1]))
            elif a[0] == "parts" and w[0] == "parts" and a[1] != w[1]:
                bad.append("%s: weft read %s\n  aiohttp read %s" % (label, w[1], a[1]))
            elif a[0] == "parts" and w[0] == "refused" and label in STRICTER:
                print("stricter (expected): %s: weft refused, aiohttp read %s" % (label, a[1]))
            elif a[0] == "parts" and w[0] == "refused":
                bad.append("%s: weft refused (%s) what aiohttp read: %s" % (label, w[1], a[1]))
        for label, make in formdata_cases(d):
            w = await post(s, weft_url, make())
            a = await post(s, aio_url, make())
            check(label, summary(w[0], w[1]), summary(a[0], a[1]))
        for label, args in curl_cases(d):
            res = []
            for url in (weft_url, aio_url):
                p = await asyncio.create_subprocess_exec(
                    "curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args, url,
                    stdout=subprocess.PIPE)
                out, _ = await p.communicate()
                body, _, code = out.rpartition(b"\n")
                res.append(summary(int(code), body))
            check(label, res[0], res[1])
        for label, ct, body in raw_cases():
            h = {"Content-Type": ct}
            w = await post(s, weft_url, body.encode(), h)
            a = await post(s, aio_url, body.encode(), h)
            check(label, summary(w[0], w[1]), summary(a[0], a[1]))
    await runner.cleanup()
    if bad:
        print("\n".join(bad))
        return 1
    print("OK %d" % n)
    return 0


async def serve(port):
    await start(port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(serve(int(sys.argv[2])))
    else:
        sys.exit(asyncio.run(diff(sys.argv[2], sys.argv[3])))
