/* weft_resolve and weft_getnameinfo: numeric addresses at once, then a
 * cache, then one of two resolvers, chosen once per process the way Go
 * chooses (docs/design.md "DNS" says why):
 *  - c-ares on the loop (dns_ares.c) when /etc/nsswitch.conf's hosts line
 *    is "files dns" (or there is none): c-ares reads /etc/hosts and then
 *    asks DNS, which is all glibc would do there, without a thread;
 *  - otherwise glibc's getaddrinfo on a small dedicated thread pool (below),
 *    so that nss modules (mdns, systemd-resolved, LDAP...) apply.
 * WEFT_DNS=c-ares or WEFT_DNS=getaddrinfo in the environment forces one.
 *
 * The pool: a caller that gives up must not hold back the next one (issue
 * 10 item 19): a queued job nobody waits for leaves the queue, a worker
 * stuck in one stops counting against WORKERS_MAX (a fresh lookup gets a
 * thread of its own), and failures are cached briefly. Its limit is
 * THREADS_MAX stuck lookups in all, which is why c-ares is preferred where
 * it gives the same answers.
 *
 * Why a pool of its own rather than weft_to_thread: a lookup can take
 * seconds (an unreachable name server), and weft_to_thread must wait for its
 * function even when the caller is cancelled. Here a cancelled or timed-out
 * caller leaves at once: the job is reference-counted and the worker finishes
 * it alone (its answer still goes into the cache). And slow lookups cannot
 * starve file I/O on the loop's pool.
 *
 * The pool and the cache are process-wide (one mutex), unlike the loops: DNS
 * answers are facts about the process's network, worth sharing between
 * loops, and a few resolver threads per loop would be waste. Concurrent
 * lookups of the same name share one job (c-ares: one query per loop, the
 * others on that loop wait for its answer). A waiting task waits on an eventfd
 * of its own, which the worker writes when the job is done. */
#define _GNU_SOURCE
#include "dns_internal.h"
#include "error_table.h"
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TTL_S 30.0     /* getaddrinfo gives no TTLs: a fixed, short one (for both resolvers) */
#define NEG_TTL_S 5.0  /* failures too, briefly: a name that timed out is not retried at once */
#define CACHE_MAX 256  /* entries; a linear scan is cheaper than a hash here */
#define WORKERS_MAX 4  /* threads serving lookups someone still waits for */
#define THREADS_MAX 64 /* with those stuck in lookups everyone gave up on */
#define IDLE_EXIT_S 30 /* an idle worker ends after this long */

/* DNS's codes for weft_strerror: the table in weft/io.h. */
WEFT__ERROR_TABLE(dns, WEFT_DNS_ERRORS)

typedef struct waiter {
    int efd;
    struct waiter *next;
} waiter;

typedef struct job {
    char *host;
    int family, socktype; /* family -1: a reverse lookup (getnameinfo) */
    int refs;        /* the worker + each waiting task */
    int started;     /* a worker took it from the queue */
    int abandoned;   /* started, and every waiter has left */
    int done, err;
    struct addrinfo *res;
    struct sockaddr_storage sa; /* a reverse lookup's address, flags and answer */
    socklen_t salen;
    int ni_flags;
    char name[NI_MAXHOST];
    waiter *waiters;
    struct job *next;          /* the queue */
    struct job *iprev, *inext; /* jobs not yet done, for sharing */
} job;

typedef struct entry {
    char *host;
    int family, socktype;
    double expires;       /* dropped then (at least TTL_S, or the longest TTL asked) */
    double stored;        /* when the answer came: a caller's TTL is measured from it */
    int err;              /* a failure remembered (res NULL), or 0 */
    struct addrinfo *res; /* our copy (copy_list), port 0 */
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static job *qhead, *qtail, *inflight;
static int nworkers, nidle;
static int nstuck; /* workers in a lookup nobody waits for any more */
static int nares;  /* c-ares lookups in flight, on every loop */
static entry cache[CACHE_MAX];
static int ncache;
static unsigned long hits, lookups;
static double keep_s = TTL_S; /* how long answers are kept: the longest TTL asked */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int map_gai(int rc)
{
    switch (rc) {
    case 0: return 0;
    case EAI_AGAIN: return -WEFT_EDNSAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return errno ? -errno : -WEFT_EDNS;
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS: return -EINVAL;
    default: return -WEFT_EDNS; /* NONAME, NODATA, FAIL, ADDRFAMILY, SERVICE */
    }
}

/* ---- answers: our own copies, so that one free function fits all ---------------- */

void weft_addrinfo_free(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;
        free(ai);
        ai = next;
    }
}

/* Copies a getaddrinfo list, each node in one allocation, with port set. */
static int copy_list(const struct addrinfo *src, int port, struct addrinfo **out)
{
    struct addrinfo *head = NULL, **tail = &head;
    for (; src; src = src->ai_next) {
        struct addrinfo *n = malloc(sizeof *n + src->ai_addrlen);
        if (!n) {
            weft_addrinfo_free(head);
            return -ENOMEM;
        }
        *n = *src;
        n->ai_canonname = NULL;
        n->ai_next = NULL;
        n->ai_addr = (struct sockaddr *)(n + 1);
        memcpy(n->ai_addr, src->ai_addr, src->ai_addrlen);
        if (n->ai_family == AF_INET) ((struct sockaddr_in *)n->ai_addr)->sin_port = htons((uint16_t)port);
        else if (n->ai_family == AF_INET6) ((struct sockaddr_in6 *)n->ai_addr)->sin6_port = htons((uint16_t)port);
        *tail = n;
        tail = &n->ai_next;
    }
    *out = head;
    return head ? 0 : -WEFT_EDNS;
}

/* ---- the cache (mu held) -------------------------------------------------------- */

static int same(const char *h, int fam, int st, const char *h2, int fam2, int st2)
{
    return fam == fam2 && st == st2 && !strcmp(h, h2);
}

/* The entry for host if its answer is at most ttl seconds old (a failure:
 * at most min(ttl, NEG_TTL_S)). */
static entry *cache_find(const char *host, int family, int socktype, double now, double ttl)
{
    for (int i = 0; i < ncache; i++) {
        entry *e = &cache[i];
        if (same(e->host, e->family, e->socktype, host, family, socktype)) {
            double age = e->res ? ttl : ttl < NEG_TTL_S ? ttl : NEG_TTL_S;
            return e->expires > now && now - e->stored <= age ? e : NULL;
        }
    }
    return NULL;
}

static void entry_clear(entry *e)
{
    free(e->host);
    weft_addrinfo_free(e->res);
    *e = cache[--ncache];
}

/* Takes ownership of res; with res NULL, remembers the failure err. */
static void cache_put(const char *host, int family, int socktype, struct addrinfo *res, int err,
                      double now)
{
    for (int i = 0; i < ncache;) {
        entry *e = &cache[i];
        if (e->expires <= now || same(e->host, e->family, e->socktype, host, family, socktype))
            entry_clear(e);
        else
            i++;
    }
    if (ncache == CACHE_MAX) {
        int old = 0;
        for (int i = 1; i < ncache; i++)
            if (cache[i].expires < cache[old].expires) old = i;
        entry_clear(&cache[old]);
    }
    char *h = strdup(host);
    if (!h) {
        weft_addrinfo_free(res);
        return;
    }
    cache[ncache++] = (entry){h, family, socktype, now + (res ? keep_s : NEG_TTL_S), now, err, res};
}

void weft__dns_stats(unsigned long *hit, unsigned long *lookup)
{
    pthread_mutex_lock(&mu);
    *hit = hits;
    *lookup = lookups;
    pthread_mutex_unlock(&mu);
}

int weft__dns_pending(void)
{
    pthread_mutex_lock(&mu);
    int n = 0;
    for (job *j = inflight; j; j = j->inext) n++;
    n += nares;
    pthread_mutex_unlock(&mu);
    return n;
}

void weft__dns_cache_clear(void)
{
    pthread_mutex_lock(&mu);
    while (ncache) entry_clear(&cache[0]);
    pthread_mutex_unlock(&mu);
}

/* ---- jobs and workers ------------------------------------------------------------ */

static void job_unref(job *j) /* mu held */
{
    if (--j->refs) return;
    free(j->host);
    weft_addrinfo_free(j->res);
    free(j);
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!qhead) {
            nidle++;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += IDLE_EXIT_S;
            int rc = pthread_cond_timedwait(&cv, &mu, &until);
            nidle--;
            if (rc == ETIMEDOUT && !qhead) {
                nworkers--;
                pthread_mutex_unlock(&mu);
                return NULL;
            }
        }
        job *j = qhead;
        qhead = j->next;
        if (!qhead) qtail = NULL;
        j->started = 1;
        pthread_mutex_unlock(&mu);

        struct addrinfo hints = {.ai_family = j->family, .ai_socktype = j->socktype};
        struct addrinfo *res = NULL;
        int rc = j->family < 0 ? getnameinfo((struct sockaddr *)&j->sa, j->salen, j->name,
                                             sizeof j->name, NULL, 0, j->ni_flags)
                               : getaddrinfo(j->host, NULL, &hints, &res);
        int err = map_gai(rc);
        double now = mono();

        /* Two copies in our own format: the job may outlive the cache entry
         * and the reverse. */
        struct addrinfo *mine = NULL, *cached = NULL;
        if (!err && j->family >= 0) err = copy_list(res, 0, &mine);
        if (!err && j->family >= 0 && copy_list(res, 0, &cached) < 0) cached = NULL;
        if (res) freeaddrinfo(res);

        pthread_mutex_lock(&mu);
        j->done = 1;
        j->err = err;
        j->res = mine;
        if (j->abandoned) nstuck--;
        if (cached) cache_put(j->host, j->family, j->socktype, cached, 0, now);
        else if (j->family >= 0 && (err == -WEFT_EDNS || err == -WEFT_EDNSAGAIN))
            cache_put(j->host, j->family, j->socktype, NULL, err, now);
        if (j->iprev) j->iprev->inext = j->inext; else inflight = j->inext;
        if (j->inext) j->inext->iprev = j->iprev;
        for (waiter *w = j->waiters; w; w = w->next) {
            uint64_t one = 1;
            (void)!write(w->efd, &one, sizeof one);
        }
        j->waiters = NULL;
        job_unref(j);
    }
}

/* A forked child has none of the workers: it starts afresh (jobs in flight
 * belong to the parent's tasks and are left behind). */
static void forked_child(void)
{
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&cv, NULL);
    qhead = qtail = inflight = NULL;
    nworkers = nidle = nstuck = 0;
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_register(void) { pthread_atfork(NULL, NULL, forked_child); }

/* Finds or starts the job for this name (for a reverse lookup, family -1
 * and host a key naming sa and flags); mu held. NULL on ENOMEM. */
static job *job_get(const char *host, int family, int socktype, const struct sockaddr *sa,
                    socklen_t salen)
{
    for (job *j = inflight; j; j = j->inext)
        if (same(j->host, j->family, j->socktype, host, family, socktype)) {
            j->refs++;
            if (j->abandoned) { /* someone waits for it again */
                j->abandoned = 0;
                nstuck--;
            }
            return j;
        }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->host = strdup(host))) {
        free(j);
        return NULL;
    }
    j->family = family;
    j->socktype = socktype;
    if (sa) {
        memcpy(&j->sa, sa, salen);
        j->salen = salen;
        j->ni_flags = socktype;
    }
    j->refs = 2;
    lookups++;
    j->inext = inflight;
    if (inflight) inflight->iprev = j;
    inflight = j;
    if (qtail) qtail->next = j; else qhead = j;
    qtail = j;
    /* Workers stuck in lookups everyone gave up on do not count: a fresh
     * lookup never queues behind them (only THREADS_MAX bounds them). */
    if (!nidle && nworkers - nstuck < WORKERS_MAX && nworkers < THREADS_MAX) {
        pthread_t th;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256 * 1024);
        if (pthread_create(&th, &a, worker, NULL) == 0) nworkers++;
        pthread_attr_destroy(&a);
        /* No thread at all: the job waits for one that exists, or fails below. */
    }
    pthread_cond_signal(&cv);
    return j;
}

/* Every waiter left j, not done (mu held). Not started: it leaves the queue
 * and is never run. Started: its worker no longer counts against
 * WORKERS_MAX, so fresh lookups get a thread of their own meanwhile. */
static void job_abandon(job *j)
{
    if (j->started) {
        j->abandoned = 1;
        nstuck++;
        return;
    }
    job **p = &qhead, *prev = NULL;
    while (*p && *p != j) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p) return;
    *p = j->next;
    if (qtail == j) qtail = prev;
    if (j->iprev) j->iprev->inext = j->inext; else inflight = j->inext;
    if (j->inext) j->inext->iprev = j->iprev;
    j->refs--; /* the worker's: no worker will take it */
}

/* The cached answer for host, as a fresh list for port; -ENOENT when there
 * is none. Called with mu held. */
static int cache_answer(const char *host, int port, int family, int socktype, double ttl,
                        struct addrinfo **out)
{
    entry *e = cache_find(host, family, socktype, mono(), ttl);
    if (!e) return -ENOENT;
    hits++;
    return e->err ? e->err : copy_list(e->res, port, out);
}

/* Starts or joins the job and waits for it: 0 with *jout (a reference the
 * caller drops with job_unref under mu), or -errno (cancelled, timed out:
 * the job is left to its worker). */
static int pool_wait(const char *key, int family, int socktype, const struct sockaddr *sa,
                     socklen_t salen, double ttl, job **jout)
{
    pthread_once(&atfork_once, atfork_register);
    waiter w = {.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    if (w.efd < 0) return -errno;
    pthread_mutex_lock(&mu);
    /* A forward lookup's job may have ended since the caller looked in the
     * cache (mu was released, and the eventfd took a system call): its
     * answer is there now, and starting a job would ask again (io_dns's
     * "20 concurrent lookups, one getaddrinfo" failed so on a loaded
     * machine). Checked under the same hold as job_get. */
    if (!sa && cache_find(key, family, socktype, mono(), ttl)) {
        pthread_mutex_unlock(&mu);
        close(w.efd);
        return -EALREADY;
    }
    job *j = job_get(key, family, socktype, sa, salen);
    if (!j || !nworkers) {
        if (j) j->refs--; /* it stays queued for the next worker */
        pthread_mutex_unlock(&mu);
        close(w.efd);
        return j ? -EAGAIN : -ENOMEM;
    }
    w.next = j->waiters;
    j->waiters = &w;
    pthread_mutex_unlock(&mu);

    int r;
    for (;;) {
        r = weft_wait_fd(w.efd, WEFT_READABLE);
        pthread_mutex_lock(&mu);
        if (j->done) break;
        if (r < 0) { /* cancelled or timed out: leave the job to the worker */
            for (waiter **p = &j->waiters; *p; p = &(*p)->next)
                if (*p == &w) {
                    *p = w.next;
                    break;
                }
            if (!j->waiters) job_abandon(j);
            break;
        }
        pthread_mutex_unlock(&mu);
    }
    if (r < 0) job_unref(j); /* done or not, the caller is not taking the answer */
    pthread_mutex_unlock(&mu);
    weft_close(w.efd);
    if (r < 0) return r;
    *jout = j;
    return 0;
}

static int lookup_pool(const char *host, int port, int family, int socktype, double ttl,
                       struct addrinfo **out)
{
    /* A job for this name may have ended since weft_resolve looked in the
     * cache (mu was released): its answer is there now; pool_wait looks
     * again under the lock that starts a job (-EALREADY: look here). */
    int r;
    job *j;
    do {
        pthread_mutex_lock(&mu);
        r = cache_answer(host, port, family, socktype, ttl, out);
        pthread_mutex_unlock(&mu);
        if (r != -ENOENT) return r;
        r = pool_wait(host, family, socktype, NULL, 0, ttl, &j);
    } while (r == -EALREADY);
    if (r < 0) return r;
    pthread_mutex_lock(&mu);
    r = j->err ? j->err : copy_list(j->res, port, out);
    job_unref(j);
    pthread_mutex_unlock(&mu);
    return r;
}

/* A c-ares lookup in flight on one loop: later lookups of the same name on
 * that loop wait for its answer (through the cache) instead of sending
 * queries of their own, as the pool's shared jobs do. Only on the same
 * loop: the event that wakes them is loop-local, and a lookup on another
 * loop just asks for itself. Under mu. */
typedef struct flight {
    char *host;
    int family, socktype;
    weft_loop *loop;
    weft_event *done;
    int refs; /* the asker and its waiters */
    struct flight *next;
} flight;
static flight *flights;

static void flight_unref(flight *f)
{
    if (--f->refs) return;
    weft_event_free(f->done);
    free(f->host);
    free(f);
}

static int lookup_ares(const char *host, int port, int family, int socktype, double ttl,
                       struct addrinfo **out)
{
    weft_loop *me = weft_loop_current();
    flight *f;
    pthread_mutex_lock(&mu);
    for (;;) {
        /* Looked at again after each wait: the asker's answer is there
         * now, unless it failed without a remembered error (cancelled,
         * out of memory): then this task asks itself. */
        int r = cache_answer(host, port, family, socktype, ttl, out);
        if (r != -ENOENT) {
            pthread_mutex_unlock(&mu);
            return r;
        }
        for (f = flights; f; f = f->next)
            if (f->loop == me && same(f->host, f->family, f->socktype, host, family, socktype)) break;
        if (!f) break;
        f->refs++;
        pthread_mutex_unlock(&mu);
        int w = weft_event_wait(f->done);
        pthread_mutex_lock(&mu);
        flight_unref(f);
        if (w < 0) {
            pthread_mutex_unlock(&mu);
            return w;
        }
    }
    f = calloc(1, sizeof *f);
    if (f) {
        f->host = strdup(host);
        f->done = weft_event_new();
        if (!f->host || !f->done) {
            weft_event_free(f->done);
            free(f->host);
            free(f);
            f = NULL;
        }
    }
    if (f) { /* without one, the lookup goes on unshared */
        *f = (flight){f->host, family, socktype, me, f->done, 1, flights};
        flights = f;
    }
    lookups++;
    nares++;
    pthread_mutex_unlock(&mu);
    struct addrinfo *res = NULL, *cached = NULL;
    int r = weft__ares_getaddrinfo(host, family, socktype, &res);
    double now = mono();
    if (r == 0) r = copy_list(res, port, out);
    pthread_mutex_lock(&mu);
    nares--;
    if (res && copy_list(res, 0, &cached) == 0) cache_put(host, family, socktype, cached, 0, now);
    else if (r == -WEFT_EDNS || r == -WEFT_EDNSAGAIN) cache_put(host, family, socktype, NULL, r, now);
    if (f) {
        for (flight **p = &flights; *p; p = &(*p)->next)
            if (*p == f) {
                *p = f->next;
                break;
            }
        weft_event_set(f->done);
        flight_unref(f);
    }
    pthread_mutex_unlock(&mu);
    weft_addrinfo_free(res);
    return r;
}

/* ---- which resolver -------------------------------------------------------------- */

/* 1 if the hosts line of nsswitch.conf (at path) names exactly "files dns"
 * (or the file or the line is missing: glibc's default is then "dns files"
 * in effect for DNS names), else 0: some other source (mdns, resolve,
 * myhostname...) or an action ("[NOTFOUND=return]") that c-ares would not
 * honour. */
int weft__dns_nsswitch_plain(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return 1;
    char line[512];
    int plain = 1;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (strncmp(p, "hosts:", 6)) continue;
        char *hash = strchr(p, '#');
        if (hash) *hash = 0;
        char words[4][16];
        int n = sscanf(p + 6, "%15s %15s %15s", words[0], words[1], words[2]);
        plain = n == 2 && !strcmp(words[0], "files") && !strcmp(words[1], "dns");
    }
    fclose(f);
    return plain;
}

static int use_ares;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static void choose(void)
{
    const char *env = getenv("WEFT_DNS");
    if (env && (!strcmp(env, "c-ares") || !strcmp(env, "cares"))) use_ares = 1;
    else if (env && !strcmp(env, "getaddrinfo")) use_ares = 0;
    else use_ares = weft__dns_nsswitch_plain("/etc/nsswitch.conf");
}

void weft__dns_use(int ares)
{
    pthread_once(&choose_once, choose);
    use_ares = ares;
}

const char *weft__dns_resolver(void)
{
    pthread_once(&choose_once, choose);
    return use_ares ? "c-ares" : "getaddrinfo";
}

int weft_resolve(const char *host, int port, int family, int socktype, struct addrinfo **out)
{
    return weft__resolve_ttl(host, port, family, socktype, 0, out);
}

int weft__resolve_ttl(const char *host, int port, int family, int socktype, double ttl,
                      struct addrinfo **out)
{
    if (!out || port < 0 || port > 65535) return -EINVAL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return -EINVAL;
    if (!socktype) socktype = SOCK_STREAM;
    *out = NULL;
    /* A numeric address, or none (the wildcard): getaddrinfo answers without
     * any I/O, so no thread and no cache. */
    struct addrinfo hints = {.ai_family = family, .ai_socktype = socktype,
                             .ai_flags = AI_NUMERICHOST | (host && *host ? 0 : AI_PASSIVE)};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host && *host ? host : NULL, "0", &hints, &res);
    if (rc == 0) {
        int r = copy_list(res, port, out);
        freeaddrinfo(res);
        return r;
    }
    if (rc != EAI_NONAME) return map_gai(rc);

    /* A name waits, even when the cache has it: a cancelled caller (or one
     * past its deadline) is refused before looking, as at every wait. */
    int r = weft_check("weft_resolve");
    if (r) return r;
    /* 0: the default; < 0: no cached answer (a fresh lookup, which still
     * fills the cache for others); longer ones keep answers longer. */
    if (ttl == 0) ttl = TTL_S;
    if (ttl > 86400) ttl = 86400;
    pthread_mutex_lock(&mu);
    if (ttl > keep_s) keep_s = ttl;
    r = cache_answer(host, port, family, socktype, ttl, out);
    pthread_mutex_unlock(&mu);
    if (r != -ENOENT) return r;
    pthread_once(&choose_once, choose);
    return use_ares ? lookup_ares(host, port, family, socktype, ttl, out)
                    : lookup_pool(host, port, family, socktype, ttl, out);
}

int weft_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, size_t hostlen,
                     int flags)
{
    if (!sa || !host || !hostlen || salen > sizeof(struct sockaddr_storage)) return -EINVAL;
    if (flags & ~(NI_NUMERICHOST | NI_NAMEREQD | NI_NOFQDN)) return -EINVAL;
    if (!(sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) &&
        !(sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)))
        return -EINVAL;
    /* The numeric form needs no lookup: at once, in this thread. */
    if (flags & NI_NUMERICHOST) {
        int rc = getnameinfo(sa, salen, host, (socklen_t)(hostlen > NI_MAXHOST ? NI_MAXHOST : hostlen),
                             NULL, 0, NI_NUMERICHOST);
        return rc == EAI_OVERFLOW ? -ENOSPC : map_gai(rc);
    }
    int r = weft_check("weft_getnameinfo");
    if (r) return r;
    pthread_once(&choose_once, choose);
    if (use_ares) return weft__ares_getnameinfo(sa, salen, host, hostlen, flags);
    char key[INET6_ADDRSTRLEN + 32], ip[INET6_ADDRSTRLEN] = "";
    inet_ntop(sa->sa_family, sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                                                       : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr,
              ip, sizeof ip);
    snprintf(key, sizeof key, "%s/%d", ip, flags);
    job *j;
    r = pool_wait(key, -1, flags, sa, salen, 0, &j);
    if (r < 0) return r;
    pthread_mutex_lock(&mu);
    r = j->err;
    if (!r && strlen(j->name) >= hostlen) r = -ENOSPC;
    else if (!r) strcpy(host, j->name);
    job_unref(j);
    pthread_mutex_unlock(&mu);
    return r;
}

/* Formats an address as "1.2.3.4:80" or "[::1]:80" (for messages). */
const char *weft__addr_str(const struct sockaddr *sa, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(buf, n, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(buf, n, "[%s]:%d", ip, port);
    } else {
        snprintf(buf, n, "(family %d)", sa->sa_family);
    }
    return buf;
}
