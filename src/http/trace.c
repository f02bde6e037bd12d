/* The client's tracing hooks (aiohttp's TraceConfig): each event is
 * stamped with a fresh monotonic reading, not the loop's cached weft_now(),
 * since several phases (a cached DNS answer, a connect to loopback) end
 * within one loop turn and would all show the same instant. */
#include "http/client_internal.h"
#include <time.h>

static const char *const names[] = {
    "dns_start",       "dns_end",          "connect_start",   "connect_end",
    "tls_start",       "tls_end",          "request_start",   "conn_reused",
    "conn_create_start", "conn_created",   "request_sent",    "response_headers",
    "redirect",        "request_end",
};

const char *weft_http_trace_name(int event)
{
    return event >= 0 && event < (int)(sizeof names / sizeof *names) ? names[event] : "?";
}

static double clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void weft__trace_full(weft_http_response *r, weft_http_trace_info *ev)
{
    weft_http_client *c = r->c;
    if (!c->o.trace) return;
    ev->time = clock_now();
    ev->method = r->method;
    ev->url = r->url;
    ev->ctx = r->tctx;
    c->o.trace(c->o.trace_arg, ev);
}

void weft__trace(weft_http_response *r, int event, int status, int err)
{
    weft_http_trace_info ev = {.event = event, .status = status, .error = err};
    weft__trace_full(r, &ev);
}

void weft__trace_connect(void *arg, int phase, const struct sockaddr *addr, int err)
{
    weft_http_response *r = arg;
    weft_http_trace_info ev = {.event = WEFT_HTTP_TRACE_DNS_START + phase, .addr = addr,
                               .error = err};
    if (phase == WEFT_CONNECT_DNS_START || phase == WEFT_CONNECT_DNS_END) ev.host = r->tdns_host;
    weft__trace_full(r, &ev);
}
