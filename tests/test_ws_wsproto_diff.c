/* Differential test of the WebSocket connection against wsproto (issue 14):
 * tests/ws_wsproto_diff.py writes a few thousand byte streams (valid and
 * invalid frames, fragmentation, UTF-8 across fragments, control frames,
 * close codes, deflate; see its header), this program plays weft's side of
 * each over a socket pair (weft__ws_new: the real connection code, without
 * the handshake, which other tests cover) and writes down what weft
 * delivered and every byte it wrote back; the script then judges both
 * against wsproto. Needs /usr/bin/python3 with wsproto (Debian
 * python3-wsproto; tools/deps.sh test). */
#include "check.h"
#include "http/ws_internal.h"
#include "run_cmd.h"
#include <weft/io.h>
#include <weft/test.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIMIT 70000 /* ws_wsproto_diff.py's LIMIT */

static char cases_path[256], out_path[256];

typedef struct peer {
    weft_stream *s;
    const uint8_t *in;
    size_t n;
    weft__buf got; /* what weft wrote */
} peer;

static int peer_write(void *arg)
{
    peer *p = arg;
    if (p->n) weft_stream_write(p->s, p->in, p->n); /* fails once weft stops reading */
    weft_stream_shutdown(p->s);
    return 0;
}

static int peer_read(void *arg)
{
    peer *p = arg;
    char buf[16384];
    ssize_t r;
    while ((r = weft_stream_read(p->s, buf, sizeof buf)) > 0) weft__buf_add(&p->got, buf, (size_t)r);
    return 0;
}

static int nibble(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

static size_t unhex(const char *h, uint8_t *out)
{
    if (!strcmp(h, "-")) return 0;
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(nibble(h[2 * i]) << 4 | nibble(h[2 * i + 1]));
    return n;
}

static void put_hex(FILE *f, const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = p;
    if (!n) fputc('-', f);
    for (size_t i = 0; i < n; i++) {
        putc(digits[b[i] >> 4], f);
        putc(digits[b[i] & 15], f);
    }
}

/* The permessage-deflate agreed in a mode (see the script's MODES). */
static weft__ws_pmd mode_pmd(const char *mode)
{
    weft__ws_pmd p = {0};
    if (!strstr(mode, "-z")) return p;
    p.on = 1;
    p.server_bits = p.client_bits = 15;
    if (strstr(mode, "-zn")) {
        p.server_bits = p.client_bits = 10;
        p.server_no_takeover = p.client_no_takeover = 1;
    }
    return p;
}

/* Sends the messages of an emit case ("type:frag:hex,...") and closes. */
static void emit(weft_ws *ws, char *spec, FILE *out)
{
    static uint8_t data[1 << 18];
    for (char *save, *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int type = atoi(item);
        char *c2 = strchr(item, ':') + 1;
        size_t frag = strtoul(c2, NULL, 10);
        size_t n = unhex(strchr(c2, ':') + 1, data);
        CHECK_EQ(weft_ws_send_frag(ws, type, data, n, frag), 0);
    }
    CHECK_EQ(weft_ws_close(ws, 1000, "bye"), 0);
    fputs("sent", out);
}

/* Reads messages until the end, writing them down as the script does. */
static void receive(weft_ws *ws, FILE *out)
{
    weft_ws_msg m;
    int r;
    while ((r = weft_ws_receive(ws, &m)) > 0) {
        fputs(m.type == WEFT_WS_TEXT ? "T:" : "B:", out);
        if (m.len) put_hex(out, m.data, m.len);
        fputc(',', out);
    }
    if (r == 0) fprintf(out, "close:%d", weft_ws_close_code(ws));
    else if (r == -WEFT_EWS_CLOSED) fputs("eof", out);
    else if (r == -WEFT_EWS_PROTOCOL) fputs("fail:1002", out);
    else if (r == -WEFT_EWS_UTF8) fputs("fail:1007", out);
    else if (r == -WEFT_EWS_TOO_BIG) fputs("fail:1009", out);
    else fprintf(out, "error:%d", r);
}

static void run_case(char *line, uint8_t *in, FILE *out)
{
    char *save;
    char *name = strtok_r(line, " \n", &save), *mode = strtok_r(NULL, " \n", &save);
    char *hex = strtok_r(NULL, " \n", &save), *spec = strtok_r(NULL, " \n", &save);
    int is_emit = !strncmp(mode, "emit-", 5);
    const char *m = is_emit ? mode + 5 : mode;
    int client = !strncmp(m, "cli", 3);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    weft_stream *ours = weft_stream_from_fd(sv[0]);
    peer p = {.s = weft_stream_from_fd(sv[1]), .in = in, .n = unhex(hex, in)};
    CHECK(ours && p.s);
    weft__ws_pmd pmd = mode_pmd(m);
    weft_ws_opts o = {.max_message = LIMIT, .close_timeout_s = 5};
    weft_ws *ws = weft__ws_new(ours, client, &o, NULL, &pmd);
    CHECK(ws);
    weft_task *w = weft_spawn(peer_write, &p), *r = weft_spawn(peer_read, &p);
    fprintf(out, "%s ", name);
    if (is_emit) emit(ws, spec, out);
    else receive(ws, out);
    weft_ws_free(ws);               /* a client's stream goes with it */
    if (!client) weft_stream_close(ours); /* a server's belongs to the HTTP server */
    CHECK_EQ(weft_await(w), 0);
    CHECK_EQ(weft_await(r), 0);
    weft_stream_close(p.s);
    fputc(' ', out);
    put_hex(out, p.got.p, p.got.len);
    fputc('\n', out);
    weft__buf_free(&p.got);
}

/* Runs the script (gen or check), its report on stderr. */
static int run_script(const char *verb)
{
    const char *dir = getenv("WEFT_TEST_DIR");
    char script[1024];
    static char report[1 << 16];
    snprintf(script, sizeof script, "%s/ws_wsproto_diff.py", dir ? dir : "tests");
    char *argv[] = {"/usr/bin/python3", script, (char *)verb, cases_path, out_path, NULL};
    int r = run_cmd(argv, report, sizeof report);
    fputs(report, stderr);
    return r;
}

WEFT_TEST(matches_wsproto)
{
    WEFT_TEST_CHECK(run_script("gen") == 0);
    FILE *f = fopen(cases_path, "r"), *out = fopen(out_path, "w");
    WEFT_TEST_CHECK(f && out);
    char *line = NULL;
    size_t cap = 0;
    uint8_t *in = malloc(1 << 20);
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        run_case(line, in, out);
        n++;
    }
    free(in);
    free(line);
    fclose(f);
    fclose(out);
    fprintf(stderr, "%d cases through weft\n", n);
    int r = run_script("check");
    if (r) fprintf(stderr, "ws_wsproto_diff.py check: %d\n", r);
    return r ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const weft_test_case cases[] = {WEFT_TEST_CASE(matches_wsproto)};
    if (system("/usr/bin/python3 -c 'import wsproto' 2>/dev/null") != 0) {
        fprintf(stderr, "needs /usr/bin/python3 with wsproto: apt-get install python3-wsproto\n");
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cases_path, sizeof cases_path, "%s/weft_wsdiff_%d.cases", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/weft_wsdiff_%d.out", tmp ? tmp : "/tmp", (int)getpid());
    weft_test_options opt = {.timeout_s = 120};
    int r = argc > 1 ? weft_test_main(cases, 1, argc, argv)
                     : weft_test_run("matches_wsproto", matches_wsproto, NULL, &opt);
    if (!r) unlink(cases_path), unlink(out_path); /* kept to look at when it fails */
    return r ? 1 : 0;
}
