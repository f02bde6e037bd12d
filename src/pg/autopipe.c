/* Automatic pipelining: weft_pg_query from several tasks on one connection.
 *
 * A query that finds the connection free takes its lock and opens a
 * "session" in libpq's pipeline mode. Queries that arrive while the session
 * runs do not wait for the lock: they join the session's queue, and their
 * statements go into the same pipeline, each followed by its own sync (so an
 * error aborts only that query's segment). Results come back in queue order,
 * so exactly one task reads at a time: the "reader", always the first live
 * entry of the queue. It sends what joined since its last wake, reads its
 * own segment and passes the role on.
 *
 * A query alone on the connection, of a statement already prepared, is sent
 * outside pipeline mode, exactly as a lone query always was (pipeline mode
 * costs a single task ~5% in round trips per second: the sync's result, mode
 * switches). Queries that join it wait unsent until its reply is in; the
 * next reader then enters pipeline mode and sends them all. So a burst pays
 * one round trip for its first query, then pipelines.
 *
 * Only the reader calls libpq or waits on the socket. Joiners leave their
 * statement in the queue for the reader to send: a joiner calling libpq
 * itself could make libpq read replies into its buffer (it does when a send
 * would block) while the reader sleeps on a socket that will not wake it.
 * The reader only sleeps on the socket while its own replies are due, so it
 * wakes, and then sends what joined meanwhile.
 *
 * A task that gives up (cancelled, past its deadline) before its statement
 * was sent just leaves the queue. One that gives up after is "abandoned":
 * the next reader discards its replies. Its statement is not cancelled on
 * the server while other tasks' statements were sent behind it (a cancel
 * request cannot name a statement and could hit theirs); when nobody is
 * left, the session ends through pg__abort, which does cancel and drain. A
 * statement sent alone (below) has nothing of others behind it on the
 * wire: the next reader cancels it before sending anything.
 *
 * The session ends when the queue empties, or when another kind of operation
 * (weft_pg_exec, a batch, a transaction...) waits for the lock: new queries
 * then queue for the lock behind it instead of joining, so it gets its turn. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { AP_WAIT, AP_READER, AP_FAILED };

struct pg_ap {
    struct pg_ap *next;
    const char *sql;          /* the caller's until sent; then a copy if parsed */
    const weft_pg_params *p;  /* the caller's; used only until sent */
    int flags;
    int sent;                 /* 1 its messages are queued in libpq, 2 read */
    int piped;                /* sent in pipeline mode (its segment ends at
                                 a sync, else at the end of its results) */
    int parse_due;            /* its Parse's answer is still to be read */
    int send_rc;              /* its send failed after a Parse was queued */
    int abandoned;            /* its task left; heap copy owned by the queue */
    int state;                /* AP_*: what the wake-up means */
    int rc;
    weft_event *turn;         /* joiners: set to wake them */
    char *sql_copy;
};

static void ap_free(pg_ap *e)
{
    free(e->sql_copy);
    free(e);
}

static void unlink_entry(weft_pg *c, pg_ap *e)
{
    pg_ap **pp = &c->ap_head, *prev = NULL;
    while (*pp && *pp != e) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = e->next;
    if (c->ap_tail == e) c->ap_tail = prev;
}

/* Queues the messages of every entry not yet sent (reader only; in
 * pipeline mode). */
static void send_queued(weft_pg *c)
{
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF) return;
    for (pg_ap *e = c->ap_head, *n; e; e = n) {
        n = e->next;
        if (e->sent) continue;
        int flags = e->flags;
        /* A statement whose Parse is still in flight may yet fail to
         * prepare: run this one unnamed, so its error is its own. */
        if (e != c->ap_head && pg__stmt_state(c, e->sql) == 2) flags |= WEFT_PG_NOCACHE;
        int parsed = 0;
        int rc = pg__send_batch_item(c, e->sql, e->p, flags, &parsed, NULL);
        if (parsed && !(e->sql_copy = strdup(e->sql))) rc = rc < 0 ? rc : -ENOMEM;
        e->sql = e->sql_copy;
        e->p = NULL;
        if (rc < 0 && !parsed) {
            /* nothing of it was queued: it fails now, out of the queue */
            unlink_entry(c, e);
            e->state = AP_FAILED; /* the reader itself sees it on return */
            e->rc = rc;
            if (e->turn) weft_event_set(e->turn);
            continue;
        }
        if (!PQpipelineSync(c->pg)) {
            pg__lost(c);
            return;
        }
        e->sent = 1;
        e->piped = 1;
        e->parse_due = parsed;
        e->send_rc = rc < 0 ? rc : 0;
    }
}

/* Next result, sending what is queued whenever the socket allows. */
static int ap_get(weft_pg *c, PGresult **res)
{
    for (;;) {
        int f = PQflush(c->pg);
        if (f < 0) return pg__lost(c);
        if (f == 0 || !PQisBusy(c->pg)) return pg__get(c, res);
        int ev = pg__wait(c, WEFT_READABLE | WEFT_WRITABLE);
        if (ev < 0) return ev;
        if ((ev & WEFT_READABLE) && !PQconsumeInput(c->pg)) return pg__lost(c);
    }
}

/* Reads e's segment up to its sync: its result into *keep (keep NULL: an
 * abandoned entry, discarded) and a server error into *err. 0, or a
 * wait/link error. */
static int read_segment(weft_pg *c, pg_ap *e, PGresult **keep, int *err)
{
    for (;;) {
        send_queued(c);
        if (c->broken) return -WEFT_PG_EBROKEN;
        PGresult *res;
        int rc = ap_get(c, &res);
        if (rc < 0) return rc;
        if (!res && !e->piped) {
            e->sent = 2; /* done */
            return 0;
        }
        if (!res) continue;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            e->sent = 2;
            return 0;
        }
        if (e->parse_due && st != PGRES_PIPELINE_ABORTED) {
            e->parse_due = 0;
            if (e->sql) pg__prepare_done(c, e->sql, st == PGRES_COMMAND_OK);
            if (st == PGRES_COMMAND_OK) {
                PQclear(res);
                continue;
            }
        }
        if (st == PGRES_FATAL_ERROR) {
            if (!*err) *err = keep ? pg__server_error(c, res) : -WEFT_PG_ESERVER;
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            rc = pg__discard_copy(c, st);
            if (rc < 0) {
                PQclear(res);
                return rc;
            }
        } else if (keep && st != PGRES_PIPELINE_ABORTED && !*keep) {
            *keep = res;
            continue;
        }
        PQclear(res);
    }
}

/* The link is gone: every waiting task fails, the session ends. */
static void fail_all(weft_pg *c)
{
    pg_ap *e = c->ap_head;
    c->ap_head = c->ap_tail = NULL;
    while (e) {
        pg_ap *n = e->next;
        if (e->abandoned) {
            ap_free(e);
        } else {
            e->state = AP_FAILED;
            e->rc = -WEFT_PG_EBROKEN;
            if (e->turn) weft_event_set(e->turn);
        }
        e = n;
    }
    c->ap_on = 0;
    pg__unlock(c);
}

/* The reader is done with the head entry (already unlinked): hands the
 * role to the next live entry, or ends the session. */
static void pass_on(weft_pg *c)
{
    if (c->broken) {
        fail_all(c);
        return;
    }
    for (pg_ap *e = c->ap_head; e; e = e->next)
        if (!e->abandoned) {
            e->state = AP_READER;
            weft_event_set(e->turn);
            return;
        }
    int syncs = 0, sent_any = 0;
    while (c->ap_head) { /* only abandoned ones are left: nobody waits */
        pg_ap *e = c->ap_head;
        c->ap_head = e->next;
        if (e->sent == 1 && e->piped) syncs++;
        sent_any |= e->sent == 1;
        ap_free(e);
    }
    c->ap_tail = NULL;
    c->ap_on = 0;
    if (sent_any) {
        /* cancels what still runs and drains it in the background */
        pg__abort(c, -ECANCELED, syncs);
        pg__release(c);
    } else if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg)) {
        pg__lost(c);
        pg__unlock(c);
    } else {
        pg__unlock(c);
    }
}

/* e's task gives up with rc while e is queued. */
static int give_up(weft_pg *c, pg_ap *e, int rc)
{
    if (e->sent != 1) { /* not sent (or fully read): just leave */
        int reader = e->state == AP_READER || !e->turn;
        unlink_entry(c, e);
        if (reader) pass_on(c);
        return rc;
    }
    /* Sent: its replies will come, someone must read them. The queue keeps
     * a heap copy (e is on the caller's stack). */
    pg_ap *h = malloc(sizeof *h);
    if (!h) {
        unlink_entry(c, e);
        pg__lost(c);
        fail_all(c);
        return rc;
    }
    *h = *e;
    h->abandoned = 1;
    h->turn = NULL;
    e->sql_copy = NULL;
    pg_ap **pp = &c->ap_head;
    while (*pp != e) pp = &(*pp)->next;
    *pp = h;
    if (c->ap_tail == e) c->ap_tail = h;
    if (e->state == AP_READER || !e->turn) pass_on(c);
    return rc;
}

/* Sends the reader's own entry (at the head of the queue): alone and
 * prepared, as a plain query; else in pipeline mode with whatever joined. */
static int send_own(weft_pg *c, pg_ap *e)
{
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF) {
        if (!e->next && ((e->flags & WEFT_PG_NOCACHE) || pg__stmt_state(c, e->sql) == 1)) {
            int parsed;
            int rc = pg__send_batch_item(c, e->sql, e->p, e->flags, &parsed, NULL);
            e->p = NULL;
            if (rc < 0) {
                unlink_entry(c, e);
                e->state = AP_FAILED;
                e->rc = rc;
            } else {
                e->sent = 1;
            }
            return 0;
        }
        /* (a new statement is prepared on the way: Parse rides along) */
        if (!PQenterPipelineMode(c->pg)) return pg__lost(c); /* c is idle here */
    }
    send_queued(c);
    return c->broken ? -WEFT_PG_EBROKEN : 0;
}

typedef struct discard_job {
    weft_pg *c;
    pg_ap *h;
} discard_job;

static int discard_one(void *arg)
{
    discard_job *d = arg;
    int err = 0;
    return read_segment(d->c, d->h, NULL, &err);
}

/* Discards the abandoned entries ahead of e (the reader). */
static int discard_ahead(weft_pg *c, pg_ap *e)
{
    while (c->ap_head != e) {
        pg_ap *h = c->ap_head;
        discard_job d = {c, h};
        int rc;
        if (h->piped || h->sent != 1) {
            rc = discard_one(&d);
        } else {
            /* Sent alone, it is all the server has of ours (the rest waits
             * unsent): stopping it cannot hit a neighbour, since nothing
             * more is sent before the request is passed on and its reply
             * read. */
            rc = pg__cancel_until(c, discard_one, &d);
        }
        if (rc < 0) return rc;
        c->ap_head = h->next;
        ap_free(h);
    }
    return 0;
}

int pg__ap_query(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                 PGresult **out, int64_t *rows)
{
    pg_ap e = {.sql = sql, .p = p, .flags = flags, .state = AP_READER};
    int rc;
    /* lock_waiters > ap_lockers: another kind of operation waits; a
     * rollback left by a cancelled task runs at the next lock, first */
    if (c->ap_on && !c->draining && !c->broken && c->lock_waiters <= c->ap_lockers &&
        c->rollback_to < 0) {
        /* join the running session; the reader will send it */
        if (!(e.turn = weft_event_new())) return -ENOMEM;
        e.state = AP_WAIT;
        c->ap_tail->next = &e;
        c->ap_tail = &e;
        rc = weft_event_wait(e.turn);
        if (rc < 0 && e.state != AP_FAILED) {
            rc = give_up(c, &e, rc);
            weft_event_free(e.turn);
            free(e.sql_copy);
            return rc;
        }
        if (e.state == AP_FAILED) {
            weft_event_free(e.turn);
            free(e.sql_copy);
            return e.rc;
        }
    } else {
        c->ap_lockers++;
        rc = pg__lock_ex(c, 1); /* a pool reset in flight: read below */
        c->ap_lockers--;
        if (rc < 0) return rc;
        c->ap_on = 1;
        c->ap_head = c->ap_tail = &e;
    }
    /* the reader */
    PGresult *keep = NULL;
    int err = 0;
    if (e.turn) pg__clear_error(c); /* the lead's pg__lock did it */
    rc = discard_ahead(c, &e);
    if (rc >= 0 && !e.sent) rc = send_own(c, &e);
    /* The pool's reset, sent at release, is ahead of this statement in the
     * pipeline (send_own queued it there): its replies come first. */
    if (rc >= 0 && c->reset_syncs) rc = pg__reset_collect(c, 0);
    if (rc >= 0 && e.state == AP_FAILED) { /* its own send failed: nothing queued */
        rc = e.rc;
        pass_on(c);
    } else {
        if (rc >= 0) rc = read_segment(c, &e, &keep, &err);
        if (rc < 0 && (c->broken || rc == -WEFT_PG_EBROKEN)) {
            unlink_entry(c, &e);
            if (!c->broken) pg__lost(c);
            fail_all(c);
            rc = -WEFT_PG_EBROKEN;
        } else if (rc < 0) {
            rc = give_up(c, &e, rc);
        } else {
            unlink_entry(c, &e);
            pass_on(c);
            rc = e.send_rc ? e.send_rc : err;
            if (!rc) *rows = pg__rows64(keep);
        }
    }
    weft_event_free(e.turn);
    free(e.sql_copy);
    if (rc < 0 || !out) PQclear(keep);
    else *out = keep;
    return rc;
}
