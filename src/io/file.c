/* Files without stalling the loop: each operation is one job on the core's
 * thread pool (weft_to_thread), as libuv's uv_fs_* and asyncio's to_thread.
 *
 * epoll cannot help here: a regular file is always "ready" and a read that
 * misses the page cache blocks the thread. Whole-file reads and writes are
 * one job each (open, loop, close on the worker), so a task pays for one
 * round trip to the pool, not one per chunk. io_uring would remove the
 * thread hop; it is the planned next backend (docs/design.md). */
#define _GNU_SOURCE
#include <weft/io.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fjob {
    const char *path;
    int fd;
    char *data;       /* read: result; write: input */
    size_t len;
    off_t off;
    struct stat *st;
    ssize_t done;
} fjob;

/* Reads into a buffer sized by fstat, growing it for files whose size the
 * kernel does not know in advance (/proc, pipes, a file still growing). */
static int do_read(void *arg)
{
    fjob *j = arg;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    int err = 0;
    size_t cap = 0, len = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        err = -EISDIR;
        goto out;
    }
    /* +2: room for the NUL and for the read that sees EOF without growing. */
    cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
    for (;;) {
        if (len + 1 >= cap || !buf) {
            if (buf) cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                err = -ENOMEM;
                goto out;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err = -errno;
            goto out;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    buf[len] = 0;
    j->data = buf;
    j->len = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return err;
}

int weft_file_read(const char *path, char **data, size_t *len)
{
    if (!path || !data) return -EINVAL;
    fjob j = {.path = path};
    int rc = weft_to_thread(do_read, &j);
    if (rc < 0) {
        free(j.data); /* the job may have finished after a cancellation */
        return rc;
    }
    *data = j.data;
    if (len) *len = j.len;
    return 0;
}

static int do_write(void *arg)
{
    fjob *j = arg;
    int fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    size_t done = 0;
    int err = 0;
    while (done < j->len) {
        ssize_t r = write(fd, j->data + done, j->len - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err = -errno;
            break;
        }
        done += (size_t)r;
    }
    /* close reports delayed write errors on some file systems (NFS). */
    if (close(fd) < 0 && !err) err = -errno;
    return err;
}

int weft_file_write(const char *path, const void *data, size_t len)
{
    if (!path || (!data && len)) return -EINVAL;
    fjob j = {.path = path, .data = (char *)data, .len = len};
    return weft_to_thread(do_write, &j);
}

static int do_stat(void *arg)
{
    fjob *j = arg;
    return stat(j->path, j->st) < 0 ? -errno : 0;
}

int weft_file_stat(const char *path, struct stat *st)
{
    if (!path || !st) return -EINVAL;
    fjob j = {.path = path, .st = st};
    return weft_to_thread(do_stat, &j);
}

/* One pread/pwrite: a short count is returned as the system call gave it
 * (end of file, disk full), as pread(2) does. */
static int do_pread(void *arg)
{
    fjob *j = arg;
    do j->done = pread(j->fd, j->data, j->len, j->off);
    while (j->done < 0 && errno == EINTR);
    return j->done < 0 ? -errno : 0;
}

static int do_pwrite(void *arg)
{
    fjob *j = arg;
    do j->done = pwrite(j->fd, j->data, j->len, j->off);
    while (j->done < 0 && errno == EINTR);
    return j->done < 0 ? -errno : 0;
}

static ssize_t positioned(int (*fn)(void *), int fd, void *buf, size_t n, off_t off)
{
    if (fd < 0) return -EBADF;
    if ((!buf && n) || off < 0) return -EINVAL;
    if (n > SSIZE_MAX) n = SSIZE_MAX;
    fjob j = {.fd = fd, .data = buf, .len = n, .off = off};
    int rc = weft_to_thread(fn, &j);
    return rc < 0 ? rc : j.done;
}

ssize_t weft_file_pread(int fd, void *buf, size_t n, off_t off)
{
    return positioned(do_pread, fd, buf, n, off);
}

ssize_t weft_file_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return positioned(do_pwrite, fd, (void *)buf, n, off);
}
