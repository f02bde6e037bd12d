/* docs/guide.md, "A crawl frontier": workers take the shallowest page first
 * from a priority queue, put the links they find back in, and
 * weft_queue_join says when every page found has been processed. The
 * "site" is a tree held in memory: page n links to 3n+1, 3n+2 and 3n+3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

enum { PAGES = 121, WORKERS = 4 }; /* a tree of depth 4 */

typedef struct page {
    int id, depth;
} page;

static weft_queue *frontier;
static int seen[PAGES], visited, max_depth_seen;

static int by_depth(const void *a, const void *b)
{
    return ((const page *)a)->depth - ((const page *)b)->depth;
}

static int enqueue(int id, int depth)
{
    if (id >= PAGES || seen[id]) return 0;
    seen[id] = 1;
    page *p = malloc(sizeof *p);
    if (!p) return -1;
    *p = (page){id, depth};
    return weft_queue_put(frontier, p);
}

static int worker(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        int r = weft_queue_get(frontier, &item);
        if (r < 0) return r == -EPIPE ? 0 : r; /* closed: the crawl is over */
        page *p = item;
        if (p->depth > max_depth_seen) max_depth_seen = p->depth;
        r = weft_sleep(0.001); /* "fetch" the page */
        for (int k = 1; k <= 3 && r == 0; k++) r = enqueue(3 * p->id + k, p->depth + 1);
        visited++;
        free(p);
        weft_queue_task_done(frontier); /* on every path: join counts on it */
        if (r < 0) return r;
    }
}

static int main_task(void *arg)
{
    (void)arg;
    frontier = weft_queue_new_priority(0, by_depth);
    weft_task *w[WORKERS];
    enqueue(0, 0);
    for (int i = 0; i < WORKERS; i++) w[i] = weft_spawn(worker, NULL);
    weft_queue_join(frontier); /* every page found was processed */
    weft_queue_close(frontier);
    int r = weft_gather(w, WORKERS, NULL);
    printf("visited %d pages, depth 0 to %d\n", visited, max_depth_seen);
    weft_queue_free(frontier);
    return r == 0 && visited == PAGES ? 0 : 1;
}

int main(void) { return weft_run(main_task, NULL) != 0; }
