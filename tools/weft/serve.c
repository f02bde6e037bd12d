/* weft serve: a directory over HTTP, or a hello endpoint (the N2
 * benchmark's server). Runs until SIGINT or SIGTERM, then shuts down
 * gracefully. The directory it is pointed at is often a checkout, so by
 * default it listens on 127.0.0.1 only and refuses dotfiles (.git/, .env):
 * --host and --dotfiles say otherwise (issue 10 item 23). */
#include "cmd.h"
#include <weft/ws.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct serve_args {
    const char *host, *dir;
    const char *cert, *key; /* --cert/--key: HTTPS */
    int port, log, dotfiles, compress;
    int loops;          /* --loops; 0: one per CPU it may run on */
    double delay;
} serve_args;

/* 1 if a segment of the request path starts with '.' once decoded: "%2e"
 * is a dot, and "%2f" a slash that starts a segment, as the static
 * handler decodes them. */
static int hidden_path(const char *path)
{
    int seg_start = 1;
    for (const char *p = path; *p; p++) {
        int ch = (unsigned char)*p;
        if (ch == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0}, *end;
            long v = strtol(hex, &end, 16);
            if (!*end) ch = (int)v, p += 2;
        }
        if (seg_start && ch == '.') return 1;
        seg_start = ch == '/';
    }
    return 0;
}

static int refuse_dotfiles(weft_http_request *req, void *arg)
{
    (void)arg;
    if (hidden_path(weft_http_request_path(req)))
        return weft_http_respond(req, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
    return weft_http_next(req);
}

static int hello(weft_http_request *req, void *arg)
{
    double delay = *(double *)arg;
    if (delay > 0) {
        int r = weft_sleep(delay);
        if (r < 0) return r;
    }
    return weft_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

/* /ws: a WebSocket echo (text stays text, binary stays binary). */
static int ws_echo(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_ws_opts o = {.deflate = 1};
    weft_ws *ws;
    int r = weft_ws_upgrade(req, &o, &ws);
    if (r < 0) return 0; /* answered already (400/426) */
    weft_ws_msg m;
    while ((r = weft_ws_receive(ws, &m)) > 0)
        if ((r = weft_ws_send(ws, m.type, m.data, m.len)) < 0) break;
    weft_ws_free(ws);
    return 0;
}

/* One server: in a run of several loops, listen starts a listener on
 * every loop (SO_REUSEPORT: the kernel spreads connections over them, each
 * served on the loop that accepted it) and close closes them all. */
static int serve_main(void *arg)
{
    serve_args *a = arg;
    int n = weft_loop_count();
    weft_http_server_opts o = {.access_log = a->log ? stderr : NULL, .compress = a->compress};
    if (a->cert) {
        /* weft's defaults: TLS 1.2 and later, OpenSSL's secure ciphers. */
        o.tls = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = a->cert, .key_file = a->key});
        if (!o.tls) {
            int e = -errno;
            fprintf(stderr, "weft serve: cannot use %s and %s: %s (%s)\n", a->cert, a->key,
                    weft_strerror(e), weft_tls_error());
            return e;
        }
    }
    weft_http_server *srv = weft_http_server_new(&o);
    if (!srv) {
        int e = -errno;
        weft_tls_ctx_free(o.tls);
        return e;
    }
    int r = weft_http_server_route(srv, "GET", "/ws", ws_echo, NULL);
    if (a->dir && !a->dotfiles && r == 0) r = weft_http_server_use(srv, refuse_dotfiles, NULL);
    if (a->dir && r == 0) r = weft_http_server_static(srv, "/", a->dir);
    else {
        weft_http_server_route(srv, "*", "/", hello, &a->delay);
        weft_http_server_route(srv, "*", "/{path...}", hello, &a->delay);
    }
    if (r == 0) r = weft_http_server_listen(srv, a->host, a->port);
    if (r < 0) {
        fprintf(stderr, "weft serve: %s\n", weft_strerror(r));
        weft_http_server_close(srv, 0);
        weft_tls_ctx_free(o.tls);
        return r;
    }
    fprintf(stderr, "serving %s on %s://%s:%d/ with %d loop%s\n", a->dir ? a->dir : "hello",
            o.tls ? "https" : "http", a->host, weft_http_server_port(srv), n, n > 1 ? "s" : "");
    static const int sigs[] = {SIGINT, SIGTERM};
    weft_signal_wait(sigs, 2);
    fprintf(stderr, "shutting down\n");
    r = weft_http_server_close(srv, 5); /* every loop's listener, gracefully */
    weft_tls_ctx_free(o.tls); /* the streams keep what they need */
    return r;
}

/* A server's connections are descriptors, and the soft limit (often 1024)
 * is a default for programs that do not expect many: raise it to the hard
 * limit, as Go does since 1.19 and nginx's worker_rlimit_nofile. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max) return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        fprintf(stderr, "weft serve: cannot raise the descriptor limit: %s\n", strerror(errno));
}

const char weft_serve_usage[] =
    "usage: weft serve [-p P] [--host H] [--cert FILE --key FILE] [--compress] [--delay S]\n"
    "                  [--log] [--dotfiles] [--loops N] [DIR]\n"
    "  serve DIR over HTTP, or a hello endpoint; WebSocket upgrades at /ws get an echo;\n"
    "  runs until SIGINT or SIGTERM, then shuts down gracefully\n"
    "  -p, --port P     port (default 8080; 0: a free one, printed)\n"
    "      --host H     address (default 127.0.0.1; 0.0.0.0: every interface)\n"
    "      --cert FILE  HTTPS with this certificate chain (PEM; with --key)\n"
    "      --key FILE   its private key (PEM)\n"
    "      --compress   gzip/deflate text responses for clients that accept it\n"
    "      --delay S    latency added to each hello answer\n"
    "      --log        access log on stderr\n"
    "      --dotfiles   serve paths with a segment starting with '.' (404 otherwise)\n"
    "      --loops N    loops (threads) serving (default one per core)\n"
    "  -h, --help       this text;  -V, --version  the version\n";

/* -1 to go on, else the exit status (see fetch.c's parse). */
static int parse(int argc, char **argv, serve_args *a)
{
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'},  {"host", required_argument, 0, 'H'},
        {"delay", required_argument, 0, 'd'}, {"log", no_argument, 0, 'l'},
        {"loops", required_argument, 0, 'L'}, {"dotfiles", no_argument, 0, 'D'},
        {"cert", required_argument, 0, 'c'},  {"key", required_argument, 0, 'k'},
        {"compress", no_argument, 0, 'z'},
        WEFT_CMD_COMMON_OPTS,                 {0, 0, 0, 0}};
    long port = 8080, loops = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (weft_cmd_long("serve", "--port", optarg, 0, 65535, &port) < 0) return WEFT_CMD_USAGE;
            break;
        case 'H': a->host = optarg; break;
        case 'd':
            if (weft_cmd_double("serve", "--delay", optarg, 0, 86400, &a->delay) < 0)
                return WEFT_CMD_USAGE;
            break;
        case 'l': a->log = 1; break;
        case 'L':
            if (weft_cmd_long("serve", "--loops", optarg, 0, 1024, &loops) < 0) return WEFT_CMD_USAGE;
            break;
        case 'D': a->dotfiles = 1; break;
        case 'c': a->cert = optarg; break;
        case 'k': a->key = optarg; break;
        case 'z': a->compress = 1; break;
        case 'h': fputs(weft_serve_usage, stdout); return 0;
        case 'V': return weft_cmd_version();
        default: return weft_cmd_bad_option("serve", c, argv, opts, weft_serve_usage);
        }
    }
    if (optind < argc) a->dir = argv[optind++];
    if (optind < argc) {
        char what[256];
        snprintf(what, sizeof what, "one directory only (%.100s is extra)", argv[optind]);
        return weft_cmd_usage_error("serve", what, weft_serve_usage);
    }
    if (!a->cert != !a->key)
        return weft_cmd_usage_error("serve", "--cert and --key go together", weft_serve_usage);
    a->port = (int)port, a->loops = (int)loops;
    return -1;
}

int weft_cmd_serve(int argc, char **argv)
{
    serve_args a = {.host = "127.0.0.1"};
    int status = parse(argc, argv, &a);
    if (status >= 0) return status;
    raise_nofile();
    /* Every core by default, as nginx's worker_processes auto. */
    weft_options o = {.loops = a.loops > 0 ? a.loops : weft_cpu_count()};
    if (o.loops > 1024) o.loops = 1024;
    return weft_run_with(&o, serve_main, &a) < 0 ? 1 : 0;
}
