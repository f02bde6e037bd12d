/* Many GETs through one client session: the N3 benchmark's client.
 *   http_get_many URL [COUNT=20000] [IN_FLIGHT=100]
 * COUNT requests of URL, at most IN_FLIGHT at once over keep-alive
 * connections; prints the wall time. Like aiohttp with a TCPConnector(limit=100)
 * and a Semaphore around each get. */
#include <weft/http.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct job {
    const char *url;
    int count, left, failed;
    weft_http_client *c;
} job;

static int worker(void *arg)
{
    job *j = arg;
    while (j->left > 0) {
        j->left--;
        weft_http_response *r;
        int e = weft_http_client_get(j->c, j->url, &r);
        if (e < 0 || weft_http_response_status(r) != 200) {
            if (j->failed++ == 0) fprintf(stderr, "GET failed: %s\n", e < 0 ? weft_strerror(e) : "status");
        }
        weft_http_response_free(r);
    }
    return 0;
}

static int main_task(void *arg)
{
    job *j = arg;
    int inflight = j->left;
    j->left = j->count;
    weft_http_client_opts o = {.limit = (size_t)inflight};
    j->c = weft_http_client_new(&o);
    double t0 = weft_now();
    weft_task **ts = calloc((size_t)inflight, sizeof *ts);
    for (int i = 0; i < inflight; i++) ts[i] = weft_spawn(worker, j);
    weft_gather(ts, (size_t)inflight, NULL);
    free(ts);
    double el = weft_now() - t0;
    printf("%d GETs, %d failed, %.3f s, %.0f req/s\n", j->count, j->failed, el, j->count / el);
    weft_http_client_close(j->c);
    return j->failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [COUNT=20000] [IN_FLIGHT=100]\n", argv[0]);
        return 2;
    }
    job j = {.url = argv[1], .count = argc > 2 ? atoi(argv[2]) : 20000,
             .left = argc > 3 ? atoi(argv[3]) : 100};
    return weft_run(main_task, &j) != 0;
}
