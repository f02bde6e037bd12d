/* The machine's price of fresh memory, printed beside M1-M4 in every bench
 * run: M2-M4 are bound by how much a page touched for the first time costs
 * (allocation, zeroing, and on a VM the hypervisor's own fault), which
 * differs 5x between VMs of one class. Each figure is the median of 5
 * batches; a batch maps 64 MiB and
 *   fresh_page_us     touches one byte per 4 KiB page (a fault each)
 *   populate_page_us  populates the whole mapping with one
 *                     madvise(MADV_POPULATE_WRITE) (the kernel's bulk path)
 *   syscall_us        makes as many trivial system calls (getppid)
 * and the result is per page (per call). Reports
 *     PROBE machine fresh_page_us=... populate_page_us=... syscall_us=... cores=N
 * Usage: bench_page_probe */
#define _GNU_SOURCE
#include "bench.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAP_BYTES (64u << 20)
#define PAGE 4096u
#define PAGES (MAP_BYTES / PAGE)
#define BATCHES 5

enum { TOUCH, POPULATE, SYSCALL };

/* One batch: seconds per page (per call), or -1 if the mapping failed. */
static double batch(int what)
{
    if (what == SYSCALL) {
        double t0 = bench_now();
        for (unsigned i = 0; i < PAGES; i++) syscall(SYS_getppid);
        return (bench_now() - t0) / PAGES;
    }
    /* No MAP_POPULATE and no huge pages: every page is a fault of its own. */
    volatile char *p = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    madvise((void *)p, MAP_BYTES, MADV_NOHUGEPAGE);
    double t0 = bench_now();
    if (what == TOUCH) {
        for (unsigned i = 0; i < PAGES; i++) p[(size_t)i * PAGE] = 1;
    } else if (madvise((void *)p, MAP_BYTES, MADV_POPULATE_WRITE) != 0) {
        munmap((void *)p, MAP_BYTES);
        return -1;
    }
    double dt = bench_now() - t0;
    munmap((void *)p, MAP_BYTES);
    return dt / PAGES;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of BATCHES batches, in microseconds; -1 if any batch failed. */
static double median_us(int what)
{
    double v[BATCHES];
    for (int i = 0; i < BATCHES; i++)
        if ((v[i] = batch(what)) < 0) return -1;
    qsort(v, BATCHES, sizeof v[0], cmp_double);
    return v[BATCHES / 2] * 1e6;
}

int main(void)
{
    double touch = median_us(TOUCH), populate = median_us(POPULATE), sys = median_us(SYSCALL);
    if (touch < 0) {
        perror("PROBE: mmap");
        return 1;
    }
    printf("PROBE machine fresh_page_us=%.2f", touch);
    if (populate >= 0) printf(" populate_page_us=%.2f", populate);
    printf(" syscall_us=%.3f cores=%ld\n", sys, sysconf(_SC_NPROCESSORS_ONLN));
    return 0;
}
