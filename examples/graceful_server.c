/* A line-echo server that shuts down gracefully on SIGINT or SIGTERM: the
 * main task waits for the signal like for anything else, then stops
 * accepting and gives open connections a few seconds to finish. With a
 * certificate and key it speaks TLS.
 *
 *   graceful_server PORT [CERT KEY]    serve until Ctrl-C / kill
 *   graceful_server                    self-test: port 0, a client that
 *                                      talks, then SIGTERM to ourselves */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>
#include <weft/io.h>

static int echo_lines(weft_stream *s, void *arg)
{
    char line[1024];
    ssize_t n;
    while ((n = weft_stream_read_line(s, line, sizeof line)) > 0)
        if (weft_stream_write(s, line, (size_t)n) < 0) break;
    return 0;
}

/* The self-test's client: one line echoed, then the shutdown signal while
 * it is still connected, then one more line, which the grace period lets
 * through. */
static int client(void *arg)
{
    int port = *(int *)arg;
    weft_stream *s;
    int rc = weft_tcp_connect("127.0.0.1", port, NULL, &s);
    if (rc < 0) return rc;
    char line[64];
    int ok = weft_stream_write(s, "hello\n", 6) == 6 && weft_stream_read_line(s, line, sizeof line) == 6;
    raise(SIGTERM);
    weft_sleep(0.05);
    ok = ok && weft_stream_write(s, "still here\n", 11) == 11 &&
         weft_stream_read_line(s, line, sizeof line) == 11;
    weft_stream_close(s);
    return ok ? 0 : -1;
}

typedef struct cfg {
    int port;
    const char *cert, *key;
} cfg;

static int main_task(void *arg)
{
    cfg *c = arg;
    weft_serve_opts so = {0};
    if (c->cert) {
        weft_tls_opts to = {.cert_file = c->cert, .key_file = c->key};
        so.tls = weft_tls_server_ctx(&to);
        if (!so.tls) {
            fprintf(stderr, "TLS: %s\n", weft_tls_error());
            return -1;
        }
    }
    weft_server *srv = weft_tcp_serve_with(NULL, c->port, echo_lines, NULL, &so);
    if (!srv) {
        perror("listen");
        return -1;
    }
    int port = weft_server_port(srv);
    printf("serving on port %d%s; Ctrl-C or SIGTERM to stop\n", port, so.tls ? " (TLS)" : "");
    fflush(stdout);
    weft_task *self_test = c->port == 0 ? weft_spawn(client, &port) : NULL;

    int sigs[] = {SIGINT, SIGTERM};
    int sig = weft_signal_wait(sigs, 2);
    printf("%s: stop accepting, %zu connection(s) get 2 s to finish\n",
           sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : weft_strerror(sig),
           weft_server_connections(srv));
    int rc = weft_server_close(srv, 2);
    weft_tls_ctx_free(so.tls);
    if (self_test) {
        int r = weft_await(self_test);
        printf("self-test client: %s\n", r == 0 ? "served to the end" : "cut off");
        if (r < 0 || sig != SIGTERM) return -1;
    }
    printf("bye\n");
    return rc;
}

int main(int argc, char **argv)
{
    cfg c = {0};
    if (argc > 1) c.port = atoi(argv[1]);
    if (argc > 3) c.cert = argv[2], c.key = argv[3];
    if (argc > 1 && (c.port <= 0 || c.port > 65535 || argc == 3)) {
        fprintf(stderr, "usage: %s [PORT [CERT KEY]]\n", argv[0]);
        return 2;
    }
    return weft_run(main_task, &c) < 0 ? 1 : 0;
}
