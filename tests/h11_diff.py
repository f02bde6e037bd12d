#!/usr/bin/python3
"""Differential test of weft's request framing against h11 (issue 10).

Each case is a byte string a client might send on one connection: the
classic smuggling set (CL+TE combinations, duplicate and listed lengths,
Transfer-Encoding variants, bare LF, whitespace before the colon, chunk
sizes with leading zeros, overflow and junk, folds, bad methods and
versions...) generated over a few hundred combinations, most followed by a
request a smuggler would hide ("GET /smug").

The bytes go over a real socket to a weft server (started by
test_http_h11_diff.c) whose handler reads the whole body and echoes the
request it framed in an X-Echo header; the client half-closes and reads
until weft closes. The same bytes are fed to h11 acting as a server.

weft may be stricter than h11 (refuse earlier, close earlier), never laxer:
the requests weft served must be a prefix of those h11 served, each with the
same method, path, query and body. Cases marked "must" are plainly valid and
must be served exactly as h11 serves them, so that a weft refusing
everything fails too.

Usage: h11_diff.py PORT   (exit 0: no case framed laxer than h11)
"""
import re
import socket
import sys

import h11

SMUG = b"GET /smug HTTP/1.1\r\nHost: a\r\n\r\n"
HOST = b"Host: a\r\n"


def cases():
    """(name, bytes, must) triples."""
    out = []

    def add(name, data, must=False):
        out.append((name, data, must))

    # ---- plainly valid: must be served exactly as h11 does ----------------
    add("get", b"GET / HTTP/1.1\r\n" + HOST + b"\r\n", True)
    add("get-pipelined", b"GET /a HTTP/1.1\r\n" + HOST + b"\r\n" + SMUG, True)
    add("post-cl", b"POST /p?x=1 HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello" + SMUG, True)
    add("post-cl0", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\n\r\n" + SMUG, True)
    add("post-chunked", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + SMUG, True)
    add("chunk-ext", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"5;a=b\r\nhello\r\n0;c\r\n\r\n" + SMUG, True)
    add("chunk-trailer", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"1\r\nx\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n" + SMUG, True)
    add("chunk-hex-upper", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n" + SMUG, True)
    add("chunk-leading-zeros", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"0003\r\nabc\r\n000\r\n\r\n" + SMUG, True)
    add("te-case", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: ChUnKeD\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + SMUG, True)
    add("te-ows", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding:   chunked  \r\n\r\n3\r\nabc\r\n0\r\n\r\n" + SMUG, True)
    add("cl-ows", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length:   3  \r\n\r\nabc" + SMUG, True)
    add("cl-no-ows", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length:3\r\n\r\nabc" + SMUG, True)
    add("http10", b"GET / HTTP/1.0\r\n\r\n" + SMUG, True)
    add("http10-keepalive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + SMUG, True)
    add("http10-post", b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi" + SMUG, True)
    add("conn-close", b"GET / HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n" + SMUG, True)
    add("absolute-form", b"GET http://example.com/a/b?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n" + SMUG, True)
    add("absolute-form-noslash", b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n" + SMUG, True)
    add("asterisk", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n" + SMUG, True)
    add("obs-text", b"GET / HTTP/1.1\r\n" + HOST + b"X: \xe9t\xe9\r\n\r\n" + SMUG, True)
    add("empty-value", b"GET / HTTP/1.1\r\n" + HOST + b"X:\r\n\r\n" + SMUG, True)
    add("tab-value", b"GET / HTTP/1.1\r\n" + HOST + b"X:\ta\tb\t\r\n\r\n" + SMUG, True)
    add("many-pipelined", b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(20)), True)
    add("long-url", b"GET /" + b"u" * 12000 + b"?" + b"q" * 2000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", True)
    add("delete-body", b"DELETE /x HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\n\r\nz" + SMUG, True)
    add("http12", b"GET / HTTP/1.2\r\n" + HOST + b"\r\n" + SMUG)
    add("upgrade-denied", b"GET / HTTP/1.1\r\n" + HOST + b"Upgrade: foo\r\nConnection: upgrade\r\n\r\n" + SMUG)
    add("connect", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n" + SMUG)

    # ---- Content-Length values, alone and with a smuggled request ---------
    cl_values = [b"3", b"03", b"+3", b"-3", b"3,3", b"3, 3", b"3,4", b"3 3", b"0x3", b"3.0",
                 b"", b" ", b"1e1", b"\t3", b"3\t", b"3\x0b", b"\xff3",
                 b"9223372036854775807", b"9223372036854775808", b"18446744073709551615",
                 b"18446744073709551616", b"99999999999999999999999999",
                 b"00000000000000000000000000003"]
    for v in cl_values:
        add("cl=%r" % v, b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: " + v + b"\r\n\r\nabc" + SMUG)
    for a, b in [(b"3", b"3"), (b"3", b"4"), (b"3", b"0"), (b"0", b"3"), (b"3", b"")]:
        add("cl-dup=%r,%r" % (a, b), b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: " + a +
            b"\r\nContent-Length: " + b + b"\r\n\r\nabc" + SMUG)

    # ---- Transfer-Encoding values, alone and with Content-Length ----------
    te_values = [b"chunked", b"Chunked", b" chunked", b"chunked ", b"chunked,", b",chunked",
                 b"chunked, chunked", b"gzip, chunked", b"identity, chunked", b"chunked, gzip",
                 b"identity", b"gzip", b"", b"chunk", b"chunked;q=1", b"\tchunked", b"x chunked",
                 b"chunked\x0b", b"\x0bchunked", b"chunkedx", b"chunked, identity", b"cHuNkEd,",
                 b"deflate", b"chunked\xff", b"\"chunked\""]
    body = b"3\r\nabc\r\n0\r\n\r\n"
    for v in te_values:
        te = b"Transfer-Encoding: " + v + b"\r\n"
        add("te=%r" % v, b"POST / HTTP/1.1\r\n" + HOST + te + b"\r\n" + body + SMUG)
        add("te=%r+cl" % v, b"POST / HTTP/1.1\r\n" + HOST + te + b"Content-Length: 13\r\n\r\n" + body + SMUG)
        add("cl+te=%r" % v, b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 13\r\n" + te + b"\r\n" + body + SMUG)
        add("te=%r http10" % v, b"POST / HTTP/1.0\r\nConnection: keep-alive\r\n" + te + b"\r\n" + body + SMUG)
    for a, b in [(b"chunked", b"chunked"), (b"gzip", b"chunked"), (b"chunked", b"gzip"),
                 (b"chunked", b""), (b"", b"chunked"), (b"identity", b"chunked")]:
        add("te-dup=%r,%r" % (a, b), b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: " + a +
            b"\r\nTransfer-Encoding: " + b + b"\r\n\r\n" + body + SMUG)
    # Names that look like the framing headers.
    for name in [b"Transfer-Encoding ", b"Transfer-Encoding\t", b" Transfer-Encoding",
                 b"Transfer_Encoding", b"Transfer-Encoding\x00", b"XTransfer-Encoding",
                 b"Content-Length ", b"Content-Length\t", b"Content_Length", b"content-length"]:
        v = b"chunked" if b"ransfer" in name else b"13"
        add("name=%r" % name, b"POST / HTTP/1.1\r\n" + HOST + name + b": " + v + b"\r\n\r\n" + body + SMUG)

    # ---- chunk sizes, extensions, data CRLF, last chunk, trailers ---------
    def chunked(b):
        return b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + b + SMUG

    sizes = [b"3", b"03", b"0" * 15 + b"3", b"0" * 16 + b"3", b"0" * 19 + b"3", b"0" * 25 + b"3",
             b"3 ", b"3\t", b" 3", b"3;", b"3;a", b"3;a=b", b"3 ;a", b"3; a", b"3;a\rb", b"3;a\x00",
             b"0x3", b"+3", b"-3", b"g", b"3g", b"", b"ffffffffffffffff", b"10000000000000000",
             b"fffffffffffffffff", b"1" * 17, b"3\x00"]
    for sz in sizes:
        add("chunk-size=%r" % sz, chunked(sz + b"\r\nabc\r\n0\r\n\r\n"))
    for sep in [b"\r\n", b"\n", b"\r", b"\r\r\n", b"XX", b"\n\r", b" \r\n", b""]:
        add("chunk-data-end=%r" % sep, chunked(b"3\r\nabc" + sep + b"0\r\n\r\n"))
        add("chunk-size-end=%r" % sep, chunked(b"3" + sep + b"abc\r\n0\r\n\r\n"))
    for last in [b"0\r\n\r\n", b"0;x\r\n\r\n", b"00\r\n\r\n", b"0\r\n\n", b"0\n\r\n", b"0\r\n",
                 b"0\r\nX: 1\r\n\r\n", b"0\r\nX: 1\n\r\n", b"0\r\nX : 1\r\n\r\n",
                 b"0\r\n X: 1\r\n\r\n", b"0\r\nX: 1\r\n 2\r\n\r\n", b"0\r\n: 1\r\n\r\n",
                 b"0\r\nX\r\n\r\n", b"0\r\nContent-Length: 5\r\n\r\n",
                 b"0\r\nTransfer-Encoding: chunked\r\n\r\n", b"0 \r\n\r\n", b""]:
        add("last-chunk=%r" % last, chunked(b"3\r\nabc\r\n" + last))
    add("chunk-short", chunked(b"5\r\nabc\r\n0\r\n\r\n"))
    add("chunk-long", chunked(b"2\r\nabc\r\n0\r\n\r\n"))
    add("chunk-smuggle-in-data", chunked(b"20\r\n" + b"0\r\n\r\nGET /in HTTP/1.1\r\nHost: a\r\n\r\n"[:32] + b"\r\n0\r\n\r\n"))

    # ---- heads: line ends, folds, names, whitespace -----------------------
    heads = {
        "bare-lf-all": b"GET / HTTP/1.1\nHost: a\n\n",
        "bare-lf-reqline": b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        "bare-lf-header": b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
        "bare-lf-end": b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        "bare-cr-header": b"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
        "cr-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        "nul-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        "del-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
        "ctl-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        "fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        "fold-tab": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
        "fold-empty-first": b"GET / HTTP/1.1\r\nHost: a\r\nX:\r\n b\r\n\r\n",
        "fold-first-header": b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "fold-te": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + body,
        "fold-te-cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + body,
        "fold-cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 3\r\n\r\nabc",
        "space-before-colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "tab-before-colon": b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        "empty-name": b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
        "no-colon": b"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n",
        "name-space": b"GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
        "name-at": b"GET / HTTP/1.1\r\nHost: a\r\nX@: z\r\n\r\n",
        "name-nonascii": b"GET / HTTP/1.1\r\nHost: a\r\nX\xe9: z\r\n\r\n",
        "leading-crlf": b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "leading-lf": b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "leading-space": b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "no-host": b"GET / HTTP/1.1\r\n\r\n",
        "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "junk": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "empty-line-only": b"\r\n\r\n",
    }
    for name, h in heads.items():
        add(name, h + SMUG)

    # ---- request lines -----------------------------------------------------
    lines = [b"GET / HTTP/1.1", b"get / HTTP/1.1", b"FOO / HTTP/1.1", b"G@T / HTTP/1.1",
             b"GET  / HTTP/1.1", b"GET /  HTTP/1.1", b"GET\t/ HTTP/1.1", b"GET / HTTP/1.1 ",
             b" GET / HTTP/1.1", b"GET /", b"GET / HTTP/1", b"GET / HTTP/1.", b"GET / http/1.1",
             b"GET / HTTP/1.0", b"GET / HTTP/1.2", b"GET / HTTP/1.9", b"GET / HTTP/2.0",
             b"GET / HTTP/3.0", b"GET / HTTP/0.9", b"GET / HTTP/1.10", b"GET / HTTP/11",
             b"GET / HTTP/1.1x", b"GET /a b HTTP/1.1", b"GET /\x7f HTTP/1.1", b"GET /\x00 HTTP/1.1",
             b"GET /\xe9 HTTP/1.1", b"GET  HTTP/1.1", b"GET HTTP/1.1", b"/ HTTP/1.1",
             b"GET http://a/b HTTP/1.1", b"GET HTTP://A/b HTTP/1.1", b"GET //a/b HTTP/1.1",
             b"GET /a?b?c HTTP/1.1", b"GET /%00 HTTP/1.1", b"GET ? HTTP/1.1", b"GET a HTTP/1.1",
             b"PRI * HTTP/2.0", b"GET / HTTP/1.1\x00", b"GET / HTTP/1.1\t"]
    for ln in lines:
        add("line=%r" % ln, ln + b"\r\n" + HOST + b"\r\n" + SMUG)

    # ---- the cases, verbatim -----------------------------------------
    add("issue-3", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n"
        b"GET /smug HTTP/1.1\r\nHost: a\r\n\r\n")
    add("issue-4", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n"
        b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
    add("issue-5", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\nContent-Length: 36\r\n\r\n"
        b"0\r\n\r\nGET /smug HTTP/1.1\r\nHost: a\r\n\r\n")
    add("issue-6", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUG)
    add("issue-7", b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n")

    # ---- found by mutating the cases above (review of issue 10) -----------------
    for t in (b"Content-Length:: 5", b"Content-Length: +5", b"Transfer-Encoding: chu;ked",
              b"Transfer-Encoding: cunked", b"Content-Length: 5"):
        add("trailer-" + t.decode(), b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n" + t + b"\r\n\r\n" + SMUG)
    add("http10-two-hosts", b"GET / HTTP/1.0\r\nHost: a0\r\nHost: a\r\n\r\n" + SMUG)
    return out


# ---- what h11 frames ----------------------------------------------------------

def split_target(target):
    """(path, query) as weft derives them: an absolute-form target loses its
    scheme://authority."""
    t = target
    m = re.match(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+://", t)
    if m:
        rest = t[m.end():]
        j = min([k for k in (rest.find(b"/"), rest.find(b"?")) if k >= 0] or [len(rest)])
        t = rest[j:]
        if not t.startswith(b"/"):
            t = b"/" + t
    path, _, query = t.partition(b"?")
    return path, query


def h11_frame(data):
    """The requests h11 serves from data (then EOF), as (method, path,
    query, body), and how it ended. An HTTP/1.0 keep-alive request without
    Transfer-Encoding may be followed by more (h11 never keeps 1.0
    connections; weft does, as the Connection header asks): the rest is
    framed by a fresh h11."""
    served = []
    while True:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(data)
        conn.receive_data(b"")
        req, body, again = None, b"", None
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as e:
                return served, "error: %s" % e
            if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed):
                return served, "end"
            if ev is h11.PAUSED:
                return served, "paused"
            if isinstance(ev, h11.Request):
                req, body = ev, b""
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                path, query = split_target(req.target)
                served.append((req.method, path, query, body))
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                if conn.our_state is h11.SWITCHED_PROTOCOL:
                    return served, "switched"  # a 2xx to CONNECT: a tunnel now
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    hd = {k.lower(): v.lower() for k, v in req.headers}
                    if (req.http_version == b"1.0" and b"keep-alive" in hd.get(b"connection", b"")
                            and b"close" not in hd.get(b"connection", b"")
                            and b"transfer-encoding" not in hd):
                        again = conn.trailing_data[0]
                        break
                    return served, "close"
                conn.start_next_cycle()
        data = bytes(again)


# ---- what weft frames -----------------------------------------------------------

def weft_frame(port, data):
    """(served, final status or None, raw answer) from weft."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(data)
    except OSError:
        pass  # refused and closed before reading it all
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    raw = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            raw += b
    except ConnectionResetError:
        pass
    s.close()
    served, status, buf = [], None, raw
    while buf:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return served, "truncated answer", raw
        head, buf = buf[:end].split(b"\r\n"), buf[end + 4:]
        code = int(head[0].split(b" ")[1])
        hdrs = dict(h.split(b": ", 1) for h in head[1:])
        if 100 <= code < 200:
            continue
        if code != 200:
            status = code
            break
        method, path, query, body = (bytes.fromhex(p.decode()) for p in hdrs[b"X-Echo"].split(b"."))
        served.append((method, path, query, body))
        buf = buf[int(hdrs.get(b"Content-Length", b"0")):]
    return served, status, raw


def main():
    port = int(sys.argv[1])
    bad, stricter, same, n = [], [], 0, 0
    for name, data, must in cases():
        n += 1
        hs, hend = h11_frame(data)
        ws, wstatus, raw = weft_frame(port, data)
        if ws == hs:
            same += 1
            continue
        if ws == hs[:len(ws)] and not must:
            stricter.append((name, len(ws), len(hs), wstatus, hend))
            continue
        bad.append((name, data, hs, hend, ws, wstatus, raw))
    for name, w, h, st, hend in stricter:
        print("stricter: %-40s weft served %d (then %s), h11 %d (%s)" % (name, w, st, h, hend))
    for name, data, hs, hend, ws, wstatus, raw in bad:
        print("DIFFERENT: %s\n  sent: %r\n  h11:  %r (%s)\n  weft: %r (then %s)\n  answer: %r"
              % (name, data, hs, hend, ws, wstatus, raw[:600]))
    print("%d cases: %d framed as h11 does, %d stricter, %d different" % (n, same, len(stricter), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
