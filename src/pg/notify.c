/* LISTEN/NOTIFY. Notifications arrive on the connection whenever the server
 * likes, interleaved with query replies; whoever reads the socket (a query
 * or a waiter here) moves them from libpq into the connection's queue, and
 * waiters take the ones for their channel. A waiter does not hold the
 * connection, so queries keep running on it meanwhile. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_cmd(weft_pg *c, const char *verb, const char *channel)
{
    if (!c || !channel) return -EINVAL;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    char *id = PQescapeIdentifier(c->pg, channel, strlen(channel));
    char *sql = id ? malloc(strlen(id) + 16) : NULL;
    if (!sql) {
        if (id) PQfreemem(id);
        pg__release(c);
        return -ENOMEM;
    }
    sprintf(sql, "%s %s", verb, id);
    PQfreemem(id);
    rc = pg__simple(c, sql);
    free(sql);
    if (rc >= 0) {
        rc = 0;
        if (verb[0] == 'L') c->listening = 1;
    }
    pg__release(c);
    return rc;
}

int weft_pg_listen(weft_pg *c, const char *channel) { return listen_cmd(c, "LISTEN", channel); }
int weft_pg_unlisten(weft_pg *c, const char *channel) { return listen_cmd(c, "UNLISTEN", channel); }

void weft_pg_notify_free(weft_pg_notify *n) { free(n); /* one block: pg_nq starts with it */ }

static int take(weft_pg *c, const char *channel, weft_pg_notify **out)
{
    for (pg_nq **pp = &c->nq_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        pg_nq *q = *pp;
        if (channel && strcmp(q->n.channel, channel)) continue;
        *pp = q->next;
        if (c->nq_tail == q) c->nq_tail = prev;
        *out = &q->n;
        return 1;
    }
    return 0;
}

int weft_pg_notify_wait(weft_pg *c, const char *channel, weft_pg_notify **out)
{
    if (!c || !out) return -EINVAL;
    *out = NULL;
    for (;;) {
        if (take(c, channel, out)) return 0;
        if (c->broken) return -WEFT_PG_EBROKEN;
        int rc;
        c->nwaiters++;
        int mine = weft_sem_try_acquire(c->busy);
        if (mine && c->reset_syncs) {
            /* A pool reset in flight: what is queued before its UNLISTEN
             * belongs to the last holder (reading the reset drops it). */
            rc = pg__reset_collect(c, 1);
            weft_sem_release(c->busy);
        } else if (mine) {
            /* Idle connection: read the socket ourselves. */
            int ok = PQconsumeInput(c->pg);
            pg__collect_notifies(c);
            if (!ok) pg__lost(c);
            weft_sem_release(c->busy);
            if (!ok || take(c, channel, out)) {
                c->nwaiters--;
                return ok ? 0 : -WEFT_PG_EBROKEN;
            }
            rc = pg__wait(c, WEFT_READABLE);
            if (rc == -WEFT_PG_EBROKEN) rc = 0; /* the loop rechecks */
        } else {
            /* A query owns the socket; it queues what it reads and the
             * event fires when it finishes. */
            weft_event_clear(c->nev);
            rc = weft_event_wait(c->nev);
        }
        c->nwaiters--;
        if (rc < 0) return rc;
    }
}
