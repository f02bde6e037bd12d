/* Per-connection listeners and limits: server notices to a log listener,
 * a termination listener, a query logger, the default command timeout and
 * the statement cache's size. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq calls this for every NoticeResponse while it parses input, in
 * order; the default printed to stderr, weft's old one dropped them. */
static void notice_receiver(void *arg, const PGresult *res)
{
    weft_pg *c = arg;
    if (!c->log_fn) return;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (!sev) sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    c->log_fn(c, sev ? sev : "NOTICE", st ? st : "", msg ? msg : "", c->log_arg);
}

void pg__install_notice_receiver(weft_pg *c) { PQsetNoticeReceiver(c->pg, notice_receiver, c); }

void weft_pg_set_log_listener(weft_pg *c, weft_pg_log_fn fn, void *arg)
{
    if (!c) return;
    c->log_fn = fn;
    c->log_arg = arg;
}

void weft_pg_set_termination_listener(weft_pg *c, void (*fn)(weft_pg *c, void *arg), void *arg)
{
    if (!c) return;
    c->term_fn = fn;
    c->term_arg = arg;
}

void weft_pg_set_query_logger(weft_pg *c, weft_pg_query_log_fn fn, void *arg)
{
    if (!c) return;
    c->qlog_fn = fn;
    c->qlog_arg = arg;
}

void weft_pg_set_command_timeout(weft_pg *c, double seconds)
{
    if (c) c->command_timeout = seconds > 0 ? seconds : 0;
}

int64_t weft_pg_queries(const weft_pg *c) { return c ? c->nqueries : 0; }

int pg__timed(weft_pg *c, weft_fn fn, void *arg)
{
    if (c->command_timeout > 0) return weft_timeout(c->command_timeout, fn, arg);
    return fn(arg);
}
