/* glibc's heap under libpq's results. A PGresult is many 2 KiB blocks (a
 * 600-row catalogue read is about 160 KiB); freeing one that sits at the
 * heap's top left a free top above glibc's default trim threshold (128 KiB),
 * so glibc gave it back to the kernel and the next result faulted it in
 * again: P4 types measured 10-15 page faults and about 2 brk calls a query,
 * half the client's system time (docs/benchmarks.md, P4). glibc raises that
 * threshold itself the first time a program frees a large mmapped block
 * (its dynamic threshold: mmap threshold to the block's size, trim
 * threshold to twice that); weft frees one 1 MiB block once a process, so
 * up to 2 MiB of freed heap is kept for the next results. A program that
 * set its own thresholds (mallopt, GLIBC_TUNABLES) turned that adjustment
 * off, and this then changes nothing. */
#include "pg_internal.h"
#include <stdatomic.h>
#include <stdlib.h>

#define PG_HEAP_KEEP (1u << 20)

void pg__heap_keep(void)
{
#ifdef __GLIBC__
    static atomic_int done;
    if (atomic_exchange(&done, 1)) return;
    void *volatile big = malloc(PG_HEAP_KEEP); /* volatile: not elided as a pair */
    free(big);
#endif
}
