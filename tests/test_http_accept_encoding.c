/* The server's reading of Accept-Encoding q-values (RFC 9110 12.4.2:
 * "0" to "1" with at most three decimals): the coding picked for each
 * value, malformed ones ("nan", "inf", hex, exponents) counting as refused.
 * Each value sits at the very end of a page followed by a PROT_NONE page,
 * so a read past its end faults at once. */
#include "check.h"
#include "http/server_internal.h"
#include <sys/mman.h>
#include <unistd.h>

static char *page;
static size_t pg;

static int pick(const char *ae)
{
    size_t n = strlen(ae) + 1;
    CHECK(n <= pg);
    char *p = page + pg - n;
    memcpy(p, ae, n);
    return weft__accept_coding(p);
}

#define PICKS(ae, want)                                                                   \
    do {                                                                                  \
        int got_ = pick(ae);                                                              \
        if (got_ != (want)) {                                                             \
            fprintf(stderr, "%s: picked %s, not %s\n", ae,                               \
                    weft__coding_name(got_) ? weft__coding_name(got_) : "none",           \
                    weft__coding_name(want) ? weft__coding_name(want) : "none");          \
            CHECK(0);                                                                     \
        }                                                                                 \
    } while (0)

int main(void)
{
    pg = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK(mprotect(m + pg, pg, PROT_NONE) == 0);
    page = m;

    /* the server's order among equals, the client's q-values above it */
    PICKS("gzip, deflate, br, zstd", WEFT__CODING_ZSTD);
    PICKS("gzip, deflate, br", WEFT__CODING_BR);
    PICKS("gzip;q=0.5, br", WEFT__CODING_BR);
    PICKS("zstd;q=0.5, br;q=0.8, gzip;q=0.9", WEFT__CODING_GZIP);
    PICKS("gzip;q=1.000, br;q=0.999", WEFT__CODING_GZIP);
    PICKS("br;q=0.5, gzip;q=0.50", WEFT__CODING_BR);
    PICKS("GZIP;Q=0.5", WEFT__CODING_GZIP);
    PICKS("gzip ; q=0.8 , br;q=0.7", WEFT__CODING_GZIP);
    PICKS("deflate;level=1;q=0.3", WEFT__CODING_DEFLATE);
    /* q=0 refuses, "*" stands for the codings not named */
    PICKS("gzip;q=0", WEFT__CODING_NONE);
    PICKS("gzip;q=0.000, deflate;q=0.001", WEFT__CODING_DEFLATE);
    PICKS("*", WEFT__CODING_ZSTD);
    PICKS("*;q=0", WEFT__CODING_NONE);
    PICKS("zstd;q=0, br;q=0, *", WEFT__CODING_GZIP);
    PICKS("identity", WEFT__CODING_NONE);
    PICKS("", WEFT__CODING_NONE);
    /* malformed q-values are refusals: strtod read "nan" (then converted
     * to int: undefined, an abort under UBSan, so a request could stop a
     * sanitized server), "inf", hex and exponents as numbers, and would
     * read "0,5" under a locale with a decimal comma */
    PICKS("gzip;q=nan, deflate;q=0.5", WEFT__CODING_DEFLATE);
    PICKS("gzip;q=-nan, deflate;q=0.5", WEFT__CODING_DEFLATE);
    PICKS("gzip;q=inf, br;q=0.6", WEFT__CODING_BR);
    PICKS("gzip;q=0x1, br;q=0.6", WEFT__CODING_BR);
    PICKS("gzip;q=1e0, br;q=0.6", WEFT__CODING_BR);
    PICKS("gzip;q=, br;q=0.6", WEFT__CODING_BR);
    PICKS("gzip;q=.5, br;q=0.6", WEFT__CODING_BR);
    PICKS("gzip;q=0.5x, br;q=0.4", WEFT__CODING_BR);
    PICKS("gzip;q=-1, br;q=0.4", WEFT__CODING_BR);
    PICKS("gzip;q=", WEFT__CODING_NONE);
    PICKS("gzip;q", WEFT__CODING_GZIP); /* a parameter that is not q */
    PICKS("gzip;", WEFT__CODING_GZIP);
    return 0;
}
