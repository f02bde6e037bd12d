/* weft_http_response_free from a thread outside the run, as the run ends:
 * the session's loop can no longer be posted to (-ESHUTDOWN), and the free
 * closed the response's connection right there, from the wrong thread: it
 * changed the session's busy list and semaphores while the session's loop
 * could be closing the session (a data race, the connection closed twice),
 * and closed the fd behind that loop's back, whose record still said
 * "watched": a socket that got the number next was never watched again,
 * and waiting on it hung. Now the free leaves the connection to the
 * session's close, which frees what is left of the response.
 *
 * ordered: the outsider frees while the session's loop waits; then that
 * loop uses fresh sockets (one may get the old connection's number) and
 * closes the session (a leak of the response would show under ASan).
 * racing: the outsider frees while the session's loop closes the session,
 * over and over; built with -DWEFT_TSAN=ON (no WEFT_CORE_ONLY, unlike
 * `make tsan`), `test_http_client_free_at_end racing` reported a data race
 * on the session's busy list before, none now. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/http.h>
#include <weft/io.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "capture.h"
#include "check.h"

static weft_http_client *C;
static weft_http_response *R;
static sem_t go, done;
static int ordered;
static char *said; /* what the outsider's free reported (ordered runs) */

static void *outsider(void *arg)
{
    (void)arg;
    sem_wait(&go);
    if (ordered) capture_begin();
    weft_http_response_free(R);
    if (ordered) said = capture_stop(0);
    sem_post(&done);
    return NULL;
}

/* A response whose body stays on the connection. */
static int handler(weft_stream *s, void *arg)
{
    (void)arg;
    char head[4096];
    if (weft_stream_read_until(s, "\r\n\r\n", 4, head, sizeof head) <= 0) return -1;
    const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabcd";
    if (weft_stream_write(s, r, sizeof r - 1) < 0) return -1;
    while (weft_stream_read(s, head, sizeof head) > 0) {
    }
    return 0;
}

/* Sockets made now get the lowest free numbers, the old connection's among
 * them if the free closed it: each must be watched when waited on (the
 * loop's record of a number closed behind its back still said "watched",
 * so the wait was never handed to the kernel). */
static int wait_readable(void *fd) { return weft_wait_fd(*(int *)fd, WEFT_READABLE); }

static int fresh_sockets_work(void)
{
    int sv[8][2];
    for (int i = 0; i < 8; i++) CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
    int ok = 1;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 2; j++) {
            CHECK_EQ(write(sv[i][1 - j], "x", 1), 1);
            int e = weft_timeout(0.5, wait_readable, &sv[i][j]);
            if (e < 0) {
                fprintf(stderr, "fd %d: waiting to read: %s\n", sv[i][j], weft_strerror(e));
                ok = 0;
            }
        }
    for (int i = 0; i < 8; i++) weft_close(sv[i][0]), weft_close(sv[i][1]);
    return ok;
}

static int at_end(void *arg)
{
    (void)arg;
    sem_post(&go);
    if (ordered) {
        sem_wait(&done); /* blocks the loop briefly: the outsider never waits */
        CHECK(fresh_sockets_work());
        CHECK(strstr(said, "its connection is left to the session's close"));
        CHECK_EQ(weft_http_client_close(C), 0);
    } else {
        weft_http_client_close(C);
        sem_wait(&done);
    }
    return 0;
}

static int ender(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(3600), -ECANCELED); /* main returned: the run ends */
    return weft_shield(at_end, NULL);
}

static int main_task(void *arg)
{
    (void)arg;
    weft_server *srv;
    CHECK_EQ(weft_tcp_start_server("127.0.0.1", 0, handler, NULL, NULL, &srv), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", weft_server_port(srv));
    CHECK((C = weft_http_client_new(NULL)) != NULL);
    CHECK_EQ(weft_http_client_request(C, "GET", url, NULL, &R), 0);
    char b[4];
    CHECK_EQ(weft_http_response_read(R, b, sizeof b), 4);
    weft_task *t = weft_spawn(ender, NULL);
    CHECK(t);
    weft_detach(t);
    CHECK_EQ(weft_server_close(srv, 0.05), 0);
    return 0;
}

static void one_run(int ord)
{
    ordered = ord;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, outsider, NULL), 0);
    CHECK_EQ(weft_run(main_task, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    free(said);
    said = NULL;
}

int main(int argc, char **argv)
{
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    if (argc < 2 || strcmp(argv[1], "racing")) one_run(1); /* "racing": those alone */
    for (int i = 0; i < 30; i++) one_run(0);
    printf("ok free_at_end\n");
    return 0;
}
