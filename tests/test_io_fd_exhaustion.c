/* Out of file descriptors (RLIMIT_NOFILE reached), every io entry point
 * that needs one fails with a clear error (-EMFILE, or the documented
 * errno) instead of hanging, crashing or half-creating something; nothing
 * leaks (the fd table is the same afterwards) and everything works again
 * once descriptors are free. (Accepting under EMFILE is test_io_tcp's
 * emfile; an HTTP session's connect, test_http_bad_peers.) */
#define _GNU_SOURCE
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int fill[4096], nfill;
static struct rlimit old_lim;

static void exhaust(void)
{
    struct rlimit low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old_lim), 0);
    low = old_lim;
    low.rlim_cur = 256;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    nfill = 0;
    for (int fd; nfill < 4096 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
        fill[nfill++] = fd;
    CHECK_EQ(errno, EMFILE);
}

static void restore(void)
{
    for (int i = 0; i < nfill; i++) close(fill[i]);
    nfill = 0;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old_lim), 0);
}

static int echo(weft_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t n;
    while ((n = weft_stream_read(s, buf, sizeof buf)) > 0)
        if (weft_stream_write(s, buf, (size_t)n) < 0) break;
    return 0;
}

/* Each call in turn, starved and then not. */
static void probe_all(int starved)
{
    int want = starved ? -EMFILE : 0;
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    if (starved) {
        CHECK(srv == NULL);
        CHECK_EQ(errno, EMFILE);
    } else {
        CHECK(srv);
    }
    static int port; /* of the healthy run's server, kept for the starved connect */
    if (srv) port = weft_server_port(srv);

    weft_stream *s = (weft_stream *)1;
    int r = weft_tcp_connect("127.0.0.1", port ? port : 1, NULL, &s);
    CHECK_EQ(r, want);
    if (!starved) {
        char buf[8];
        CHECK_EQ(weft_stream_write(s, "ping", 4), 4);
        CHECK_EQ(weft_stream_read_exactly(s, buf, 4), 4);
        CHECK_EQ(weft_stream_close(s), 0);
    } else {
        CHECK(s == NULL);
    }

    int u = weft_udp_bind("127.0.0.1", 0, AF_INET);
    CHECK_EQ(u < 0 ? u : 0, want);
    if (u >= 0) weft_close(u);

    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-fdx-%d.sock", (int)getpid());
    weft_server *us = weft_unix_serve(path, echo, NULL, NULL);
    CHECK(starved ? us == NULL && errno == EMFILE : us != NULL);
    if (us) CHECK_EQ(weft_server_close(us, 0), 0);

    char *argv[] = {"cat", NULL};
    weft_process_opts po = {.stdin_mode = WEFT_PIPE, .stdout_mode = WEFT_PIPE};
    weft_process *p = (weft_process *)1;
    r = weft_process_spawn(argv, &po, &p);
    CHECK_EQ(r, want);
    if (!starved) {
        CHECK_EQ(weft_process_close_stdin(p), 0);
        CHECK_EQ(weft_process_wait(p), 0);
        weft_process_free(p);
    }

    char *data = NULL;
    r = weft_file_read("/proc/self/stat", &data, NULL);
    CHECK_EQ(r, want);
    CHECK(starved ? data == NULL : data != NULL);
    free(data);

    /* A name the resolver has not seen needs an eventfd for its lookup:
     * starved, it fails before any query goes out (.invalid never
     * resolves, and is never asked for when healthy). */
    struct addrinfo *ai = (struct addrinfo *)1;
    r = weft_resolve(starved ? "weft-fdx.invalid" : "localhost", 80, AF_INET, 0, &ai);
    CHECK_EQ(r, want);
    CHECK(starved ? ai == NULL : ai != NULL);
    if (!starved) weft_addrinfo_free(ai);

    if (srv) CHECK_EQ(weft_server_close(srv, 1), 0);
}

static int fdx_main(void *arg)
{
    (void)arg;
    int before = count_fds();
    probe_all(0); /* healthy: lazily made things (pool, eventfds) exist now */
    int warm = count_fds();
    exhaust();
    probe_all(1);
    restore();
    CHECK_EQ(count_fds(), warm); /* nothing leaked by the failures */
    probe_all(0);               /* and all works again */
    WEFT_TEST_CHECK(count_fds() >= before);
    return 0;
}


static const weft_test_case cases[] = {
    {"fd_exhaustion", fdx_main},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
