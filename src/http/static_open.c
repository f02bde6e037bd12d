/* Static files are opened beneath the served directory by the kernel, not
 * checked by path and then opened (issue 10 item 8: a realpath check, then
 * an open by path, raced with a symlink swap, and a prefix compare without
 * the '/' boundary let www/evil/index.html -> ../www2/secret.html out).
 * The fd that is opened is the file that is sent. */
#define _GNU_SOURCE
#include "http/static_open.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 1 if the decoded relative path is acceptable: no NUL, no backslash, no
 * "." or ".." segment (refused outright rather than normalised). */
static int decode_path(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        int ch = (unsigned char)*p;
        if (ch == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0) return 0; /* strtol would take "%+5" or "% 5" */
            ch = hi * 16 + lo;
            p += 2;
        }
        if (ch == 0 || ch == '\\' || o + 1 >= cap) return 0;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    for (char *s = out; *s;) {
        char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.')) return 0;
        s += l + (e != NULL);
    }
    return 1;
}

/* Kernels before 5.6 (and some container seccomp profiles) have no
 * openat2: remembered after the first ENOSYS. */
static atomic_int no_openat2;

static int open_openat2(int rootfd, const char *rel)
{
    struct open_how how = {.flags = FILE_FLAGS,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno == ENOSYS) atomic_store(&no_openat2, 1);
    return -errno;
}

/* One component at a time, each opened beneath the last with O_NOFOLLOW:
 * a symlink anywhere on the way fails (ELOOP, or ENOTDIR for a directory
 * link), so nothing outside rootfd is ever reached. */
static int open_walk(int rootfd, const char *rel)
{
    int dir = rootfd;
    const char *p = rel;
    for (;;) {
        while (*p == '/') p++;
        const char *e = strchrnul(p, '/'), *q = e;
        while (*q == '/') q++;
        int last = !*q;
        char seg[NAME_MAX + 1];
        size_t l = (size_t)(e - p);
        if (l > NAME_MAX) {
            if (dir != rootfd) close(dir);
            return -ENAMETOOLONG;
        }
        if (l == 0) strcpy(seg, "."); /* rel was "" or only slashes: the root */
        else {
            memcpy(seg, p, l);
            seg[l] = 0;
        }
        int fd = -1;
        if (strcmp(seg, "..")) /* never up (decode_path refuses it already) */
            fd = openat(dir, seg,
                        last ? FILE_FLAGS | O_NOFOLLOW
                             : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        else errno = EXDEV;
        int err = errno;
        if (dir != rootfd) close(dir);
        if (fd < 0) return -err;
        if (last) return fd;
        dir = fd;
        p = e;
    }
}

static int open_beneath(int rootfd, const char *rel, int flags)
{
    if (!(flags & WEFT__STATIC_WALK) && !atomic_load(&no_openat2)) {
        int fd = open_openat2(rootfd, *rel ? rel : ".");
        if (fd != -ENOSYS) return fd;
    }
    return open_walk(rootfd, rel);
}

/* The fd if it is a regular file (or, with dir_ok, a directory: *is_dir
 * set), else closed and -ENOENT. */
static int keep_if_file(int fd, struct stat *st, int *is_dir)
{
    if (fd < 0) return fd;
    if (fstat(fd, st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (S_ISREG(st->st_mode)) return fd;
    if (is_dir && S_ISDIR(st->st_mode)) *is_dir = 1;
    close(fd);
    return -ENOENT;
}

int weft__static_open(int rootfd, const char *rel, int flags, char *dec, size_t cap,
                      struct stat *st)
{
    if (cap == 0) return -ENAMETOOLONG;
    dec[0] = 0;
    if (!decode_path(rel, dec, cap)) return -ENOENT;
    int is_dir = 0;
    int fd = keep_if_file(open_beneath(rootfd, dec, flags), st, &is_dir);
    if (!is_dir) return fd;
    static const char index[] = "index.html";
    size_t n = strlen(dec);
    while (n && dec[n - 1] == '/') n--;
    size_t need = n + (n ? 1 : 0) + sizeof index; /* "/", name and NUL */
    if (need > cap) return -ENAMETOOLONG;
    if (n) dec[n++] = '/';
    memcpy(dec + n, index, sizeof index);
    return keep_if_file(open_beneath(rootfd, dec, flags), st, NULL);
}
