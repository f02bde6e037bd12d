/* Files on the thread pool: contents round-trip, positioned I/O, every
 * error path, files of unknown size, and the loop keeps running while a
 * read blocks (a FIFO whose writer only continues once other tasks have
 * made progress: if the read stalled the loop, the test would hang). */
#define _GNU_SOURCE
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void mkdir_tmp(void)
{
    strcpy(dir, "/tmp/weft_file_XXXXXX");
    CHECK(mkdtemp(dir));
}

static void path_in(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", dir, name); }

static int t_roundtrip(void *a)
{
    char p[256];
    path_in(p, "a.txt");
    CHECK_EQ(weft_file_write(p, "hello\0world", 11), 0);
    char *data;
    size_t len;
    CHECK_EQ(weft_file_read(p, &data, &len), 0);
    CHECK_EQ(len, 11);
    WEFT_TEST_CHECK(memcmp(data, "hello\0world", 11) == 0);
    CHECK_EQ(data[11], 0);
    free(data);
    struct stat st;
    CHECK_EQ(weft_file_stat(p, &st), 0);
    CHECK_EQ(st.st_size, 11);
    CHECK_EQ(st.st_mode & 0777, 0644); /* main sets umask 022 */
    /* Truncates. */
    CHECK_EQ(weft_file_write(p, "x", 1), 0);
    CHECK_EQ(weft_file_read(p, &data, &len), 0);
    CHECK_EQ(len, 1);
    free(data);
    /* Empty file. */
    CHECK_EQ(weft_file_write(p, NULL, 0), 0);
    CHECK_EQ(weft_file_read(p, &data, &len), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(data[0], 0);
    free(data);
    unlink(p);
    return 0;
}

static int t_positioned(void *a)
{
    char p[256];
    path_in(p, "b.bin");
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    WEFT_TEST_CHECK(fd >= 0);
    CHECK_EQ(weft_file_pwrite(fd, "0123456789", 10, 0), 10);
    CHECK_EQ(weft_file_pwrite(fd, "AB", 2, 4), 2);
    char buf[16] = {0};
    CHECK_EQ(weft_file_pread(fd, buf, 6, 2), 6);
    WEFT_TEST_CHECK(memcmp(buf, "23AB67", 6) == 0);
    CHECK_EQ(weft_file_pread(fd, buf, 16, 8), 2); /* short at EOF */
    CHECK_EQ(weft_file_pread(fd, buf, 16, 100), 0);
    CHECK_EQ(weft_file_pread(fd, buf, 4, -1), -EINVAL);
    close(fd);
    CHECK_EQ(weft_file_pread(fd, buf, 4, 0), -EBADF);
    CHECK_EQ(weft_file_pread(-1, buf, 4, 0), -EBADF);
    CHECK_EQ(weft_file_pwrite(-1, buf, 4, 0), -EBADF);
    /* Read-only fd written to. */
    fd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK_EQ(weft_file_pwrite(fd, "x", 1, 0), -EBADF);
    close(fd);
    unlink(p);
    return 0;
}

static int t_errors(void *a)
{
    char *data = (char *)0x1;
    size_t len = 77;
    char p[256];
    path_in(p, "missing");
    CHECK_EQ(weft_file_read(p, &data, &len), -ENOENT);
    CHECK(data == (char *)0x1 && len == 77); /* untouched on error */
    CHECK_EQ(weft_file_read(dir, &data, &len), -EISDIR);
    struct stat st;
    CHECK_EQ(weft_file_stat(p, &st), -ENOENT);
    path_in(p, "no/such/dir");
    CHECK_EQ(weft_file_write(p, "x", 1), -ENOENT);
    CHECK_EQ(weft_file_write(dir, "x", 1), -EISDIR);
    CHECK_EQ(weft_file_read(NULL, &data, &len), -EINVAL);
    CHECK_EQ(weft_file_read(dir, NULL, &len), -EINVAL);
    CHECK_EQ(weft_file_write(NULL, "x", 1), -EINVAL);
    CHECK_EQ(weft_file_write(dir, NULL, 1), -EINVAL);
    CHECK_EQ(weft_file_stat(dir, NULL), -EINVAL);
    CHECK_EQ(weft_file_read("/proc/self/mem", &data, &len), -EIO);
    return 0;
}
static void errors_outside(void)
{
    struct stat st;
    CHECK_EQ(weft_file_stat("/", &st), -EPERM); /* outside a task */
}

/* Files whose size stat does not know. */
static int t_unsized(void *a)
{
    char *data;
    size_t len;
    CHECK_EQ(weft_file_read("/proc/self/status", &data, &len), 0);
    WEFT_TEST_CHECK(len > 100 && strstr(data, "Name:") && strlen(data) == len);
    free(data);
    return 0;
}

/* The loop keeps running while a read blocks on its worker. */
static atomic_int ticks;
static char fifo[256];

static int ticker(void *a)
{
    for (;;) {
        if (weft_sleep(0.001) < 0) return 0;
        atomic_fetch_add(&ticks, 1);
    }
}

static void *slow_writer(void *arg)
{
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "part one,", 9), 9);
    /* Continue only once the loop has visibly run other tasks (bounded, so
     * a stalled loop fails the check below instead of hanging). */
    for (int i = 0; i < 1000 && atomic_load(&ticks) < 20; i++) usleep(10000);
    *(int *)arg = atomic_load(&ticks);
    CHECK_EQ(write(fd, "part two", 8), 8);
    close(fd);
    return NULL;
}

static int t_no_stall(void *a)
{
    path_in(fifo, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    atomic_store(&ticks, 0);
    weft_task *tk = weft_spawn(ticker, NULL);
    int seen = 0;
    pthread_t th;
    pthread_create(&th, NULL, slow_writer, &seen);
    char *data;
    size_t len;
    CHECK_EQ(weft_file_read(fifo, &data, &len), 0);
    pthread_join(th, NULL);
    WEFT_TEST_CHECK(seen >= 20);
    CHECK_EQ(len, 17);
    WEFT_TEST_CHECK(strcmp(data, "part one,part two") == 0);
    free(data);

    /* A large regular file: the content is right, and ticks go on too. */
    size_t big = 16u << 20;
    char *buf = malloc(big);
    for (size_t i = 0; i < big; i++) buf[i] = (char)(i * 7 + (i >> 12));
    char p[256];
    path_in(p, "big.bin");
    CHECK_EQ(weft_file_write(p, buf, big), 0);
    CHECK_EQ(weft_file_read(p, &data, &len), 0);
    CHECK_EQ(len, big);
    WEFT_TEST_CHECK(memcmp(data, buf, big) == 0);
    free(data);
    free(buf);
    unlink(p);
    weft_cancel(tk);
    CHECK_EQ(weft_await(tk), 0);
    unlink(fifo);
    return 0;
}

/* Cancelled while the worker is blocked: the task waits for the job to end
 * (it owns the job's memory), then reports the cancellation; nothing leaks. */
static void *late_writer(void *arg)
{
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    usleep(50000);
    CHECK_EQ(write(fd, "late", 4), 4);
    close(fd);
    return NULL;
}

static int reader(void *a)
{
    char *data = NULL;
    size_t len;
    return weft_file_read(fifo, &data, &len);
}

static int t_cancel(void *a)
{
    path_in(fifo, "fifo2");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    pthread_t th;
    pthread_create(&th, NULL, late_writer, NULL);
    weft_task *r = weft_spawn(reader, NULL);
    weft_sleep(0.01);
    weft_cancel(r);
    CHECK_EQ(weft_await(r), -ECANCELED);
    pthread_join(th, NULL);
    unlink(fifo);
    return 0;
}

static const weft_test_case cases[] = {
    {"roundtrip", t_roundtrip},
    {"positioned", t_positioned},
    {"errors", t_errors},
    {"unsized", t_unsized},
    {"no_stall", t_no_stall},
    {"cancel", t_cancel},
};

int main(int argc, char **argv)
{
    umask(022);
    mkdir_tmp();
    errors_outside();
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    rmdir(dir);
    return rc;
}
