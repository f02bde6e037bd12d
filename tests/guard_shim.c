/* LD_PRELOAD shim for test_core_guards: makes the process look like one on
 * a kernel before 6.13 and near vm.max_map_count.
 *  - madvise / process_madvise (direct or through syscall(2)) with
 *    MADV_GUARD_INSTALL fail with EINVAL, as old kernels answer an unknown
 *    advice;
 *  - mprotect(PROT_NONE) fails with ENOMEM, as at the map limit, once
 *    WEFT_SHIM_MPROTECT_OK calls have succeeded (unset: never).
 * weft_shim_guards_made counts the mprotect(PROT_NONE) calls let through, so
 * the test can compare it with what weft says it guarded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define GUARD_INSTALL 102 /* MADV_GUARD_INSTALL */

unsigned long weft_shim_guards_made;

static long allowed(void)
{
    const char *v = getenv("WEFT_SHIM_MPROTECT_OK");
    return v ? atol(v) : -1;
}

int madvise(void *addr, size_t len, int advice)
{
    if (advice == GUARD_INSTALL) {
        errno = EINVAL;
        return -1;
    }
    static int (*real)(void *, size_t, int);
    if (!real) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
    return real(addr, len, advice);
}

ssize_t process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice, unsigned flags)
{
    return syscall(SYS_process_madvise, pidfd, iov, n, advice, flags);
}

long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if ((nr == SYS_process_madvise && a[3] == GUARD_INSTALL) ||
        (nr == SYS_madvise && a[2] == GUARD_INSTALL)) {
        errno = EINVAL;
        return -1;
    }
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int mprotect(void *addr, size_t len, int prot)
{
    static int (*real)(void *, size_t, int);
    if (!real) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "mprotect");
    if (prot == PROT_NONE) {
        long ok = allowed();
        if (ok >= 0 && __atomic_load_n(&weft_shim_guards_made, __ATOMIC_RELAXED) >= (unsigned long)ok) {
            errno = ENOMEM;
            return -1;
        }
        int r = real(addr, len, prot);
        if (r == 0) __atomic_fetch_add(&weft_shim_guards_made, 1, __ATOMIC_RELAXED);
        return r;
    }
    return real(addr, len, prot);
}
