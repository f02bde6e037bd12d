/* ws_floor.h: the WebSocket part shared by the W1 floor servers
 * (bench/ws_epoll_echo.c, bench/ws_uring_echo.c, issue 14): just enough of
 * RFC 6455 for an echo load. The servers differ only in how bytes reach the
 * kernel, so this code is the same user-space work for both.
 *
 * Per connection: the bytes received and not yet used (a partial handshake
 * or frame; empty in the common case, where one recv holds whole frames and
 * is parsed in place) and the answer bytes produced, which the server sends.
 *
 * Not RFC-complete on purpose: no UTF-8 check, no fragmentation reassembly
 * (fragments are echoed as they come, which keeps an echo valid), a 1 MiB
 * frame limit. It is a floor, not a server. */
#ifndef WEFT_BENCH_WS_FLOOR_H
#define WEFT_BENCH_WS_FLOOR_H

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WSF_MAX_FRAME (1u << 20)

struct wsf_buf {
  uint8_t *p;
  size_t len, cap;
};

/* Makes room for n more bytes; returns where they go. */
static inline uint8_t *wsf_reserve(struct wsf_buf *b, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
  }
  return b->p + b->len;
}

static inline void wsf_append(struct wsf_buf *b, const void *p, size_t n) {
  memcpy(wsf_reserve(b, n), p, n);
  b->len += n;
}

struct wsf_conn {
  int open;           /* handshake done */
  int closing;        /* a close frame was answered: close after the send */
  struct wsf_buf in;  /* unused received bytes (partial handshake/frame) */
};

/* The 101 answer to a request whose Sec-WebSocket-Key is key[0..klen). */
static inline void wsf_accept(struct wsf_buf *out, const char *key, size_t klen) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char cat[128];
  unsigned char sha[SHA_DIGEST_LENGTH];
  char b64[64];
  if (klen > sizeof cat - sizeof guid) klen = sizeof cat - sizeof guid;
  memcpy(cat, key, klen);
  memcpy(cat + klen, guid, sizeof guid - 1);
  SHA1((unsigned char *)cat, klen + sizeof guid - 1, sha);
  int n = EVP_EncodeBlock((unsigned char *)b64, sha, sizeof sha);
  static const char head[] =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
  wsf_append(out, head, sizeof head - 1);
  wsf_append(out, b64, n);
  wsf_append(out, "\r\n\r\n", 4);
}

/* Parses the upgrade request in p[0..n); returns the bytes it used (0: not
 * complete yet, -1: not a WebSocket upgrade). */
static inline long wsf_handshake(const uint8_t *p, size_t n, struct wsf_buf *out) {
  const char *s = (const char *)p;
  const char *end = memmem(s, n, "\r\n\r\n", 4);
  if (!end) return n > 8192 ? -1 : 0;
  for (const char *l = s; l < end;) {
    const char *eol = memmem(l, end + 2 - l, "\r\n", 2);
    static const char k[] = "sec-websocket-key:";
    if ((size_t)(eol - l) > sizeof k - 1 && strncasecmp(l, k, sizeof k - 1) == 0) {
      const char *v = l + sizeof k - 1, *ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      wsf_accept(out, v, ve - v);
      return end + 4 - s;
    }
    l = eol + 2;
  }
  return -1;
}

/* Unmasks len bytes of src into dst with the 4-byte key, 8 bytes a step. */
static inline void wsf_unmask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4]) {
  uint32_t k4;
  memcpy(&k4, key, 4);
  uint64_t k8 = (uint64_t)k4 << 32 | k4;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= k8;
    memcpy(dst + i, &v, 8);
  }
  for (; i < len; i++) dst[i] = src[i] ^ key[i & 3];
}

/* Parses client frames in p[0..n) and appends their unmasked echoes (pong
 * for ping, close for close) to out; returns the bytes used (whole frames
 * only), -1 on a protocol error (the connection is dropped). */
static inline long wsf_frames(struct wsf_conn *c, const uint8_t *p, size_t n, struct wsf_buf *out) {
  size_t off = 0;
  while (n - off >= 2 && !c->closing) {
    const uint8_t *f = p + off;
    unsigned op = f[0] & 0x0f;
    if (!(f[1] & 0x80) || (f[0] & 0x70)) return -1; /* unmasked, or RSV bits */
    uint64_t len = f[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (n - off < 4) break;
      len = (uint64_t)f[2] << 8 | f[3];
      hl = 4;
    } else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i];
      hl = 10;
    }
    if (len > WSF_MAX_FRAME) return -1;
    if (n - off < hl + 4 + len) break;
    const uint8_t *key = f + hl;
    uint8_t h[10];
    size_t oh = 2;
    h[0] = op == 0x9 ? (0x80 | 0xA) : f[0]; /* ping -> pong, else as sent */
    if (len < 126) {
      h[1] = len;
    } else if (len < 65536) {
      h[1] = 126, h[2] = len >> 8, h[3] = len, oh = 4;
    } else {
      h[1] = 127, oh = 10;
      for (int i = 0; i < 8; i++) h[2 + i] = len >> (56 - 8 * i);
    }
    if (op != 0xA) { /* a pong is not answered */
      uint8_t *d = wsf_reserve(out, oh + len);
      memcpy(d, h, oh);
      wsf_unmask(d + oh, key + 4, len, key);
      out->len += oh + len;
    }
    if (op == 0x8) c->closing = 1;
    off += hl + 4 + len;
  }
  return off;
}

/* Feeds received bytes p[0..n) to connection c; the answers go to out.
 * Returns -1 when the connection must be dropped. Bytes that do not make a
 * whole frame are kept in c->in (parsed in place when c->in is empty). */
static inline int wsf_feed(struct wsf_conn *c, const uint8_t *p, size_t n, struct wsf_buf *out) {
  if (c->in.len) {
    wsf_append(&c->in, p, n);
    p = c->in.p, n = c->in.len;
  }
  size_t used = 0;
  long r;
  if (!c->open) {
    r = wsf_handshake(p, n, out);
    if (r < 0) return -1;
    if (r > 0) c->open = 1;
    used = r;
  }
  if (c->open) {
    r = wsf_frames(c, p + used, n - used, out);
    if (r < 0) return -1;
    used += r;
  }
  if (c->in.len) { /* p is c->in.p */
    memmove(c->in.p, c->in.p + used, n - used);
    c->in.len = n - used;
  } else if (used < n) {
    wsf_append(&c->in, p + used, n - used);
  }
  return 0;
}

#endif
