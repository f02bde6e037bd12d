#!/usr/bin/python3
"""Differential test of weft's WebSocket connection against wsproto (issue 14).

  ws_wsproto_diff.py gen CASES      writes the cases, one a line
  ws_wsproto_diff.py check CASES OUT  judges weft's answers (OUT, written by
                                    test_ws_wsproto_diff.c) against wsproto

A case is a byte stream that one side of a WebSocket receives: "srv" cases
are what a client sends (masked frames) to weft as a server, "cli" cases
what a server sends (unmasked) to weft as a client; "-z" cases with
permessage-deflate agreed (window 15, context takeover), "-zn" cases with
both windows at 10 bits and no context takeover. The streams are generated
from a fixed seed: valid messages at each length boundary, fragmented at
random points (UTF-8 characters split across fragments, empty fragments,
pings and pongs between them), close frames with every interesting code and
reason, then everything RFC 6455 forbids (reserved bits, unknown opcodes,
fragmented or long control frames, stray continuations, wrong masking,
non-minimal and 2^63 lengths, invalid UTF-8 of each kind, messages over the
limit, corrupt and bomb-like compressed data), truncated streams, and
random byte flips of valid streams.

weft's connection code (weft__ws_new over a socket pair) reads each stream
and reports the messages it delivered and how it ended ("close:CODE" for a
valid peer close, "fail:CODE" for the code it failed with, "eof" for a
stream ending without a close), plus every byte it wrote back. wsproto's
FrameProtocol reads the same stream; its outcome must be the same, and the
bytes weft wrote, parsed by wsproto as the other side, must be one pong per
ping read before the end, then the close frame RFC 6455 asks for (the
peer's code echoed, or the failure's code; none after eof).

"emit" cases run the other way: weft sends messages (whole or in fragments
of a given size, compressed in the -z modes) and a close, and wsproto, as
the peer, must read exactly those messages and that close.

Two things are aligned on wsproto's side, both about timing, not outcome:
the message limit (weft_ws_opts.max_message, LIMIT here; wsproto has none)
is applied as weft applies it, to the frame head's length (to the inflated
bytes for a compressed message); and wsproto's message rules (a
continuation with no message open, a new message inside one) are applied at
the frame head, where weft applies them, rather than after the payload, so
that a stream cut inside such a frame compares equal. Close code 1014 (Bad
Gateway) is valid for weft, which follows the IANA registry, and not for
wsproto 1.2, which predates it: cases with it expect weft's answer. wsproto
1.2 loses track of a compressed message when a control frame comes between
its fragments; its extension is patched to read on, as RFC 6455 5.4 and
weft do. And weft fails invalid UTF-8 at the first byte that makes it so
(autobahn's "fail fast"), where Python's decoder may wait for the next
fragment: after a 1007 weft may have answered fewer of the pings.
"""
import random
import struct
import sys
import zlib

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import (CloseReason, FrameProtocol, Opcode,
                                    ParseFailed, RsvBits)

LIMIT = 70000  # test_ws_wsproto_diff.c's max_message
SEED = 14

# ---- building frames (independent of both implementations) -----------------


def frame(op, payload=b"", fin=True, rsv=0, masked=True, lenenc=None,
          key=b"\x37\xfa\x21\x3d"):
    """One frame; lenenc forces the length form: 7, 16 or 64 bits."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (op & 15)
    m = 0x80 if masked else 0
    form = lenenc or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    body = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
    return head + key + body


def close_payload(code=None, reason=b""):
    return b"" if code is None else struct.pack("!H", code) + reason


def deflate(data, bits=15, comp=None):
    """Raw deflate of one message as RFC 7692 sends it (tail removed)."""
    c = comp or zlib.compressobj(6, zlib.DEFLATED, -bits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def split(data, rng, parts):
    """data cut at parts-1 random points (empty pieces allowed)."""
    cuts = sorted(rng.randint(0, len(data)) for _ in range(parts - 1))
    out, prev = [], 0
    for c in cuts + [len(data)]:
        out.append(data[prev:c])
        prev = c
    return out


def fragments(op, data, pieces, masked, rsv_first=0, controls=()):
    """A message as len(pieces) frames, controls (frames) after the first."""
    out = b""
    for i, p in enumerate(pieces):
        out += frame(op if i == 0 else 0, p, fin=i == len(pieces) - 1,
                     rsv=rsv_first if i == 0 else 0, masked=masked)
        if i == 0:
            out += b"".join(controls)
    return out


BAD_UTF8 = [
    b"\xff", b"\xfe", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf",
    b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80", b"\xbf",
    b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc2\x41", b"\xe2\x28\xa1",
    b"\xed\x9f\xbf\xed\xa0\x80",
]
GOOD_UTF8 = ["h\u00e9llo w\u00f6rld", "\u20ac\u2603\U0001f600\U0010ffff",
             "\u00e9" * 70, "\uffff\ud7ff\ue000"]
CODES = [0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009,
         1010, 1011, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 3000,
         3999, 4000, 4999, 5000, 65535]


def gen_parse(mode, rng):
    """(name, bytes) for one receiving mode."""
    srv = mode.startswith("srv")
    z = "-z" in mode
    bits = 10 if mode.endswith("-zn") else 15
    M = srv  # frames to a server are masked
    out = []

    def add(name, data):
        out.append((name, data))

    def F(op, payload=b"", **kw):
        kw.setdefault("masked", M)
        return frame(op, payload, **kw)

    bye = F(8, close_payload(1000, b"bye"))
    text = lambda s: s.encode("utf-8")
    # valid: lengths at each boundary, both types
    big = () if z else (65535, 65536, LIMIT)  # the same path with deflate on
    for n in (0, 1, 125, 126, 127) + big:
        add("len-text-%d" % n, F(1, b"a" * n) + bye)
        add("len-bin-%d" % n, F(2, bytes((i * 7) & 255 for i in range(n))) + bye)
    if not z:
        add("over-limit-1", F(1, b"a" * (LIMIT + 1)) + bye)
        add("over-limit-frag", F(2, b"x" * 40000, fin=False) + F(9, b"p") + F(0, b"y" * 30001) + bye)
        add("at-limit-frag", F(2, b"x" * 40000, fin=False) + F(0, b"y" * 30000) + bye)
    add("over-limit-head-only", F(2, b"x" * 10, fin=False) + bytes([0x80, (0x80 if M else 0) | 127]) +
        struct.pack("!Q", 1 << 40) + (b"k" * 4 if M else b""))
    # non-minimal and bad lengths
    add("len16-for-5", F(1, b"hello", lenenc=16) + bye)
    add("len64-for-200", F(2, b"z" * 200, lenenc=64) + bye)
    add("len64-for-125", F(2, b"z" * 125, lenenc=64) + bye)
    add("len16-for-126", F(2, b"z" * 126, lenenc=16) + bye)
    add("len64-for-65536", F(2, b"z" * 65536, lenenc=64) + bye) if not z else None
    add("len64-msb", bytes([0x82, (0x80 if M else 0) | 127]) + b"\x80" + b"\0" * 7 + (b"k" * 4 if M else b""))
    add("len64-2^63-1", bytes([0x82, (0x80 if M else 0) | 127]) + b"\x7f" + b"\xff" * 7 + (b"k" * 4 if M else b""))
    # messages with controls between fragments
    for i, s in enumerate(GOOD_UTF8):
        data = text(s)
        for parts in (1, 2, 3, 7):
            pieces = split(data, rng, parts)
            ctl = [F(9, b"ping%d" % i), F(10, b"")] if parts > 1 else []
            add("utf8-%d-%dparts" % (i, parts), fragments(1, data, pieces, M, controls=ctl) + bye)
    # every split point of a 4-byte character
    ch = text("a\U0001f600b")
    for cut in range(len(ch) + 1):
        add("utf8-split-%d" % cut, fragments(1, ch, [ch[:cut], ch[cut:]], M) + bye)
    for i, b in enumerate(BAD_UTF8):
        add("bad-utf8-%d" % i, F(1, b"ok " + b + b" end") + bye)
        add("bad-utf8-%d-bin" % i, F(2, b"ok " + b + b" end") + bye)
        add("bad-utf8-%d-tail" % i, F(1, b"ok " + b) + bye)
        data = b"ok " + b + b" end"
        for cut in range(3, 4 + len(b)):
            add("bad-utf8-%d-frag%d" % (i, cut), fragments(1, data, [data[:cut], data[cut:]], M,
                                                         controls=[F(9, b"mid")]) + bye)
        add("bad-utf8-%d-close" % i, F(8, close_payload(1000, b"r" + b)))
    # close frames
    for c in CODES:
        add("close-%d" % c, F(1, b"before") + F(8, close_payload(c, b"why")) + F(1, b"after"))
    add("close-empty", F(8, b""))
    add("close-1byte", F(8, b"\x03"))
    add("close-reason-123", F(8, close_payload(1000, b"r" * 123)))
    add("close-reason-utf8", F(8, close_payload(4000, text("\u00e9t\u00e9 \U0001f600"))))
    add("close-126", F(8, close_payload(1000, b"r" * 124), lenenc=16))
    add("close-mid-message", F(1, b"part", fin=False) + F(8, close_payload(1001)))
    # pings and pongs
    for n in (0, 1, 125):
        add("ping-%d" % n, F(9, b"p" * n) + F(10, b"q" * n) + F(1, b"x") + bye)
    add("ping-126", F(9, b"p" * 126, lenenc=16) + bye)
    add("pings-many", b"".join(F(9, b"%d" % i) for i in range(20)) + bye)
    # framing breaches
    for rsv in range(1, 8):
        for op in (1, 2, 9, 8, 0):
            pre = F(1, b"open", fin=False) if op == 0 else b""
            add("rsv%d-op%d" % (rsv, op), pre + F(op, b"", rsv=rsv) + bye)
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        add("opcode-%d" % op, F(1, b"x") + F(op, b"") + bye)
        add("opcode-%d-payload" % op, F(op, b"abc") + bye)
    for op in (8, 9, 10):
        add("frag-control-%d" % op, F(op, b"", fin=False) + F(0, b"") + bye)
    add("cont-first", F(0, b"orphan") + bye)
    add("cont-after-end", F(1, b"x") + F(0, b"y") + bye)
    add("text-in-text", F(1, b"a", fin=False) + F(1, b"b") + bye)
    add("bin-in-text", F(1, b"a", fin=False) + F(2, b"b") + bye)
    add("wrong-mask", frame(1, b"hi", masked=not M) + bye)
    add("wrong-mask-control", frame(9, b"hi", masked=not M) + bye)
    # truncated streams and junk after close
    good = F(1, b"one") + F(2, b"two" * 50) + F(9, b"pp") + F(1, b"three", fin=False) + \
        F(0, text("\u00e9" * 40)) + bye
    for cut in sorted(set(rng.randint(0, len(good) - 1) for _ in range(25))):
        add("cut-%d" % cut, good[:cut])
    add("junk-after-close", bye + b"\xff\xff\xff\xff" + F(1, b"late"))
    # compressed messages
    if z:
        raw = lambda d, comp=None: deflate(d, bits, comp)
        for s in ("hello hello hello", "", "\u00e9" * 500, "x" * 5000):
            d = text(s)
            add("z-%d" % len(d), F(1, raw(d), rsv=4) + bye)
            for parts in (2, 5):
                add("z-%d-%dparts" % (len(d), parts),
                    fragments(1, raw(d), split(raw(d), rng, parts), M, rsv_first=4,
                              controls=[F(9, b"zp")]) + bye)
        comp = zlib.compressobj(6, zlib.DEFLATED, -bits)
        if not mode.endswith("-zn"):
            # context takeover: the second refers back into the first
            m1 = raw(b"abcdefghij" * 20, comp)
            m2 = raw(b"abcdefghij" * 20, comp)
            add("z-takeover", F(1, m1, rsv=4) + F(1, m2, rsv=4) + bye)
        add("z-plain-too", F(1, b"plain") + F(1, raw(b"packed"), rsv=4) + bye)
        add("z-rsv1-cont", F(1, raw(b"abc"), rsv=4, fin=False) + F(0, b"", rsv=4) + bye)
        add("z-rsv1-ping", F(9, b"", rsv=4) + bye)
        add("z-rsv2", F(1, raw(b"abc"), rsv=6) + bye)
        add("z-corrupt", F(2, b"\xff\xfe\xfd\xfc" * 8, rsv=4) + bye)
        add("z-bad-utf8", F(1, raw(b"ok \xed\xa0\x80"), rsv=4) + bye)
        add("z-bomb", F(2, raw(b"\0" * (4 * LIMIT)), rsv=4) + bye)
        add("z-at-limit", F(2, raw(b"\0" * LIMIT), rsv=4) + bye)
        add("z-bfinal", F(2, zlib.compressobj(6, zlib.DEFLATED, -bits).compress(b"fin") +
                          zlib.compressobj(6, zlib.DEFLATED, -bits).flush(), rsv=4) + bye)
        one, two = raw(b"one"), raw(b"two" * 50)
        good = F(1, one, rsv=4)
        deflated = set(range(len(good) - len(one), len(good)))
        good += F(2, two, rsv=4)
        deflated |= set(range(len(good) - len(two), len(good)))
        good += F(9, b"pp") + F(1, b"three") + bye
    else:
        deflated = set()
    # Random flips of a valid stream; not inside deflate data, where they
    # test how two zlib bindings treat a final block (wsproto drops what
    # follows it): corrupt deflate data has its own cases and the fuzzer.
    flippable = [i for i in range(len(good)) if i not in deflated]
    for i in range(150):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            b[rng.choice(flippable)] ^= 1 << rng.randrange(8)
        add("flip-%d" % i, bytes(b))
    return out


def gen_emit(mode, rng):
    """(name, [(type, frag, data)]) for weft to send."""
    out = []
    for i in range(12):
        msgs = []
        for _ in range(rng.randint(1, 4)):
            t = rng.choice((1, 2))
            n = rng.choice((0, 0, 1, 125, 126, 200, 4000, 4000, 65536))
            if t == 1:
                data = (("\u00e9a\U0001f600" * (n // 7 + 1)).encode())[:n]
                data = data.decode("utf-8", "ignore").encode()
            else:
                data = bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1)
                data = data[:n]
            frag = rng.choice((0, 0, 1, 7, 125, 4096))
            msgs.append((t, frag, data))
        out.append(("emit-%d" % i, msgs))
    return out


MODES = ["srv", "cli", "srv-z", "cli-z", "srv-zn", "cli-zn"]


def gen(path):
    rng = random.Random(SEED)
    with open(path, "w") as f:
        for mode in MODES:
            for name, data in gen_parse(mode, rng):
                f.write("%s-%s %s %s\n" % (mode, name, mode, data.hex() or "-"))
            for name, msgs in gen_emit(mode, rng):
                # the peer's close answers weft's own
                peer_close = frame(8, close_payload(1000), masked=mode.startswith("srv"))
                spec = ",".join("%d:%d:%s" % (t, fr, d.hex() or "-") for t, fr, d in msgs)
                f.write("%s-%s emit-%s %s %s\n" % (mode, name, mode, peer_close.hex(), spec))


# ---- wsproto as the judge ---------------------------------------------------


def extensions(mode, client):
    """wsproto's permessage-deflate as agreed in mode, for one side."""
    if "-z" not in mode:
        return []
    if mode.endswith("-zn"):
        ext = PerMessageDeflate(client_no_context_takeover=True, client_max_window_bits=10,
                                server_no_context_takeover=True, server_max_window_bits=10)
    else:
        ext = PerMessageDeflate()
    ext._enabled = True  # as if the handshake had agreed it
    # wsproto 1.2 forgets that a message is compressed when a control frame
    # comes between its fragments (frame_inbound_complete clears the flag
    # for the ping): RFC 6455 5.4 allows them there, and weft reads on.
    header, complete = ext.frame_inbound_header, ext.frame_inbound_complete

    def inbound_header(proto, opcode, rsv, n):
        if not opcode.iscontrol():
            return header(proto, opcode, rsv, n)
        if rsv.rsv1:
            return CloseReason.PROTOCOL_ERROR
        ext._inbound_is_compressible = False
        return RsvBits(True, False, False)

    def inbound_complete(proto, fin):
        if not ext._inbound_is_compressible:
            return None
        return complete(proto, fin)

    ext.frame_inbound_header = inbound_header
    ext.frame_inbound_complete = inbound_complete
    return [ext]


def proto(mode, client, limit=None):
    """A FrameProtocol with weft's timing for the limit and message rules."""
    p = FrameProtocol(client=client, extensions=extensions(mode, client))
    fd, md = p._frame_decoder, p._message_decoder
    state = {"size": 0}
    parse_header = fd.parse_header
    process_frame = md.process_frame

    def header_hook():
        if not parse_header():
            return False
        h = fd.header
        if h.opcode.iscontrol():
            return True
        if h.opcode is Opcode.CONTINUATION and md.opcode is None:
            raise ParseFailed("continuation with no message open")
        if h.opcode is not Opcode.CONTINUATION and md.opcode is not None:
            raise ParseFailed("a new message inside one")
        if h.opcode is not Opcode.CONTINUATION:
            state["size"] = 0
        compressed = any(e._inbound_compressed for e in p.extensions)
        if limit and not compressed and state["size"] + h.payload_len > limit:
            raise ParseFailed("too big", CloseReason.MESSAGE_TOO_BIG)
        return True

    def frame_hook(frame):
        state["size"] += len(frame.payload)
        if limit and state["size"] > limit:
            raise ParseFailed("too big", CloseReason.MESSAGE_TOO_BIG)
        return process_frame(frame)

    fd.parse_header = header_hook
    md.process_frame = frame_hook
    return p


def read_all(p, data):
    """Feeds data at once: (messages, pings, end) as weft reports them."""
    p.receive_bytes(data)
    msgs, pings, cur = [], [], []
    try:
        for f in p.received_frames():
            if f.opcode is Opcode.PING:
                pings.append(bytes(f.payload))
            elif f.opcode is Opcode.PONG:
                pass
            elif f.opcode is Opcode.CLOSE:
                code, reason = f.payload
                return msgs, pings, "close:%d" % code, reason
            else:
                cur.append(f.payload)
                if f.message_finished:
                    if isinstance(f.payload, str):
                        msgs.append("T:" + "".join(cur).encode().hex())
                    else:
                        msgs.append("B:" + b"".join(cur).hex())
                    cur = []
    except ParseFailed as e:
        return msgs, pings, "fail:%d" % e.code, None
    return msgs, pings, "eof", None


def check_replies(mode, reply, pings, end):
    """weft's bytes, read by wsproto as the peer: pongs, then the close."""
    p = FrameProtocol(client=mode.startswith("srv"), extensions=extensions(mode, True))
    p.receive_bytes(reply)
    pongs, close = [], None
    try:
        for f in p.received_frames():
            if f.opcode is Opcode.PONG:
                pongs.append(bytes(f.payload))
            elif f.opcode is Opcode.CLOSE:
                close = int(f.payload[0])
            else:
                return "unexpected frame %r" % (f.opcode,)
    except ParseFailed as e:
        if end == "close:1014" and "reserved" in str(e):
            return None  # the echo of 1014, which wsproto 1.2 does not know
        return "wsproto cannot read weft's reply: %s" % e
    # Invalid UTF-8 is failed at the first byte that makes it so, where
    # Python's decoder may wait for more: weft may answer fewer pings then.
    if end == "fail:1007" and pongs == pings[:len(pongs)]:
        pings = pongs
    if pongs != pings:
        return "pongs %r, pings were %r" % (pongs, pings)
    want = None if end == "eof" else int(end.split(":")[1])
    if close != want:
        return "weft's close frame says %r, expected %r" % (close, want)
    return None


def check_emit(mode, spec, reply):
    want = []
    for item in spec.split(","):
        t, _, d = item.split(":")
        d = b"" if d == "-" else bytes.fromhex(d)
        want.append(("T:" if t == "1" else "B:") + d.hex())
    p = proto(mode, client=mode.startswith("srv"))
    msgs, _, end, reason = read_all(p, reply)
    if msgs != want:
        return "wsproto read %d messages, weft sent %d%s" % (
            len(msgs), len(want), "" if len(msgs) != len(want) else " (contents differ)")
    if end != "close:1000" or reason != "bye":
        return "weft's close: %s %r" % (end, reason)
    return None


def check(cases, outs):
    got = {}
    with open(outs) as f:
        for line in f:
            name, events, reply = line.split()
            got[name] = (events, bytes.fromhex(reply) if reply != "-" else b"")
    bad = n = 0
    with open(cases) as f:
        for line in f:
            name, mode, data, *spec = line.split()
            data = b"" if data == "-" else bytes.fromhex(data)
            n += 1
            if name not in got:
                print("%s: no answer from weft" % name)
                bad += 1
                continue
            events, reply = got[name]
            if mode.startswith("emit-"):
                why = check_emit(mode[5:], spec[0], reply)
            else:
                p = proto(mode, client=mode.startswith("cli"), limit=LIMIT)
                msgs, pings, end, _ = read_all(p, data)
                if end == "fail:1002" and "close-1014" in name:
                    end = "close:1014"  # IANA's Bad Gateway, newer than wsproto 1.2
                want = ",".join(msgs + [end])
                why = None
                if events != want:
                    why = "weft %s, wsproto %s" % (short(events), short(want))
                else:
                    why = check_replies(mode, reply, pings, end)
            if why:
                bad += 1
                print("%s: %s" % (name, why))
    print("%d cases, %d differ" % (n, bad))
    return 1 if bad or n < 1000 else 0


def short(events):
    return ",".join(e if len(e) < 40 else e[:36] + "..." for e in events.split(","))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
