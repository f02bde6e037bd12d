/* libFuzzer target: the static handler's path resolution
 * (src/http/static_open.c) with random request paths against a small tree
 * with symlinks in and out of the root, through openat2 and through the
 * O_NOFOLLOW walk. Whatever opens must be a regular file inside the root
 * (by its inode, and by the path the kernel reports for the fd), and no fd
 * may be left open. */
#define _GNU_SOURCE
#include "http/static_open.h"
#include <assert.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char base[64], root[PATH_MAX];
static int rootfd;
static ino_t inside[64];
static int ninside;

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    mkdir(p, 0755);
}

static void link_(const char *target, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    if (symlink(target, p)) {}
}

static int note_inside(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)path, (void)f;
    if (type == FTW_F && S_ISREG(st->st_mode) && ninside < 64) inside[ninside++] = st->st_ino;
    return 0;
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd)) {}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    strcpy(base, "/tmp/weft-fuzz-static-XXXXXX");
    if (!mkdtemp(base)) abort();
    atexit(cleanup);
    dir("www"), dir("www/sub"), dir("www/sub/deeper"), dir("www/.git"), dir("www2");
    put("www/a.txt", "a"), put("www/index.html", "i"), put("www/sub/b.css", "b");
    put("www/sub/deeper/index.html", "d"), put("www/.git/config", "g");
    put("secret.txt", "SECRET"), put("www2/secret.html", "SECRET2");
    link_("a.txt", "www/in"), link_("sub", "www/subl"), link_("../a.txt", "www/sub/up");
    link_("..", "www/parent"), link_("../secret.txt", "www/out"), link_("../www2", "www/sib");
    link_("../../www2/secret.html", "www/sub/index.html"), link_("/etc/passwd", "www/abs");
    link_("/proc/self/root", "www/magic"), link_("loop", "www/loop");
    link_("/", "www/slash"), link_("sub/../../secret.txt", "www/dotdot");
    snprintf(root, sizeof root, "%s/www", base);
    nftw(root, note_inside, 16, FTW_PHYS);
    rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) abort();
    return 0;
}

static void check(int fd, const struct stat *st)
{
    if (fd < 0) return;
    assert(S_ISREG(st->st_mode));
    int ok = 0;
    for (int i = 0; i < ninside; i++) ok |= inside[i] == st->st_ino;
    assert(ok);
    char link[64], at[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, at, sizeof at - 1);
    assert(n > 0);
    at[n] = 0;
    size_t rl = strlen(root);
    assert(!strncmp(at, root, rl) && at[rl] == '/');
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[PATH_MAX * 2], dec[PATH_MAX];
    if (size >= sizeof path) return 0;
    memcpy(path, data, size);
    path[size] = 0;
    int probe = dup(0); /* the lowest free fd: the same after every call */
    close(probe);
    struct stat st;
    for (int mode = 0; mode < 2; mode++) {
        int fd = weft__static_open(rootfd, path, mode ? WEFT__STATIC_WALK : 0, dec, sizeof dec, &st);
        check(fd, &st);
        int again = dup(0);
        assert(again == probe);
        close(again);
    }
    return 0;
}
