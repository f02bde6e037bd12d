/* Opening a static route's file beneath its root, with no check-then-open
 * race (static_open.c). Used by static.c and the fuzz_static_path target.
 * Not installed. */
#ifndef WEFT_HTTP_STATIC_OPEN_H
#define WEFT_HTTP_STATIC_OPEN_H

#include <stddef.h>
#include <sys/stat.h>

enum {
    WEFT__STATIC_WALK = 1, /* skip openat2: the O_NOFOLLOW walk (tests, fuzzing) */
};

/* Opens the file that the routed request path rel ("a/b%20c.txt": the
 * captured rest, "%xx" not yet decoded) names beneath the directory rootfd
 * (an O_PATH fd is enough). rel is decoded into dec (cap bytes); NUL,
 * backslash, "." and ".." segments are refused before any lookup. The
 * lookup itself cannot leave rootfd: openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, so symlinks are followed only while they stay
 * beneath (absolute ones never), or, where the kernel has no openat2, a
 * walk one component at a time with O_NOFOLLOW (every symlink refused).
 * A directory gives its index.html, looked up from rootfd the same way;
 * dec then ends with "/index.html" (its extension picks the MIME type).
 * Returns the fd of a regular file (O_RDONLY, O_NONBLOCK, O_CLOEXEC; *st
 * filled) or -errno: -ENOENT for refused paths and anything not a regular
 * file, -EXDEV/-ELOOP for escapes and symlinks refused, -ENAMETOOLONG,
 * -EACCES, -EMFILE... Does not wait (a few system calls). */
int weft__static_open(int rootfd, const char *rel, int flags, char *dec, size_t cap,
                      struct stat *st);

#endif
