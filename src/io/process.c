/* Subprocesses (asyncio.create_subprocess_exec).
 *
 * Spawning is posix_spawnp: glibc runs it as clone(CLONE_VM|CLONE_VFORK) +
 * exec, so the cost does not grow with the parent's memory as fork's does,
 * and an exec failure comes back as an error code (-ENOENT) instead of a
 * child that exits 127. The child gets the wanted fds on 0-2 and nothing
 * else: every fd weft makes is O_CLOEXEC, and closefrom(3) in the child
 * covers fds that other code opened without it.
 *
 * Waiting is a pidfd (Linux 5.3): it becomes readable when the child exits,
 * so a task waits for it like for any fd, with no SIGCHLD handler to share
 * with the application (asyncio's child-watcher troubles). Where pidfd_open
 * is missing, the wait polls waitid(WNOHANG) with a growing sleep. The child
 * is reaped by weft_process_wait or, at the latest, by weft_process_free: no
 * zombies. */
#define _GNU_SOURCE
#include "io_internal.h"
#include <weft/io.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct weft_process {
    pid_t pid;
    int pidfd;       /* -1: no pidfd support */
    int status;      /* valid once reaped */
    int reaped;
    int own_group; /* spawned with new_session or new_group: pgid == pid */
    weft_stream *io[3];
};

/* A pipe end that is not 0-2, so dup2 onto 0-2 in the child cannot clobber
 * another pipe's end (when the parent runs with a standard fd closed). */
static int above2(int fd)
{
    if (fd > 2) return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static int pipe_for(int child_fd, int *parent_end, int *child_end)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -errno;
    p[0] = above2(p[0]);
    p[1] = above2(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        int err = -errno;
        if (p[0] >= 0) close(p[0]);
        if (p[1] >= 0) close(p[1]);
        return err;
    }
    *child_end = child_fd == 0 ? p[0] : p[1];
    *parent_end = child_fd == 0 ? p[1] : p[0];
    return 0;
}

/* File actions that leave the child fds 0-2 and the pass fds, each under its
 * own number, and close every other fd. dup2 of an fd onto itself clears its
 * close-on-exec flag (POSIX 2018, glibc >= 2.29), which is how a weft fd
 * (always O_CLOEXEC) survives the exec; fds between 3 and the highest pass fd
 * are closed one by one, the rest by closefrom. */
static int keep_only(posix_spawn_file_actions_t *fa, const int *fds, size_t n)
{
    int top = 2;
    for (size_t i = 0; i < n; i++) {
        int e = posix_spawn_file_actions_adddup2(fa, fds[i], fds[i]);
        if (e) return -e;
        if (fds[i] > top) top = fds[i];
    }
    for (int fd = 3; fd < top; fd++) {
        int kept = 0;
        for (size_t i = 0; i < n && !kept; i++) kept = fds[i] == fd;
        if (!kept && fcntl(fd, F_GETFD) >= 0) {
            int e = posix_spawn_file_actions_addclose(fa, fd);
            if (e) return -e;
        }
    }
    return -posix_spawn_file_actions_addclosefrom_np(fa, top + 1);
}

static int pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
#else
    errno = ENOSYS;
    return -1;
#endif
}

int weft_process_spawn(char *const argv[], const weft_process_opts *opt, weft_process **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (!argv || !argv[0] || !argv[0][0]) return -EINVAL;
    weft_process_opts none = {0};
    if (!opt) opt = &none;
    int modes[3] = {opt->stdin_mode, opt->stdout_mode, opt->stderr_mode};
    for (int i = 0; i < 3; i++)
        if (modes[i] < WEFT_INHERIT || modes[i] > (i == 2 ? WEFT_STDOUT : WEFT_DEVNULL))
            return -EINVAL;
    if (opt->pass_fds_count && !opt->pass_fds) return -EINVAL;
    for (size_t i = 0; i < opt->pass_fds_count; i++)
        if (opt->pass_fds[i] < 3 || fcntl(opt->pass_fds[i], F_GETFD) < 0) return -EBADF;

    weft_process *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->pidfd = -1;
    int parent[3] = {-1, -1, -1}, child[3] = {-1, -1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    int err = 0;
    if (opt->cwd) err = -posix_spawn_file_actions_addchdir_np(&fa, opt->cwd);
    for (int i = 0; i < 3 && !err; i++) {
        if (modes[i] == WEFT_PIPE) {
            err = pipe_for(i, &parent[i], &child[i]);
            if (!err) err = -posix_spawn_file_actions_adddup2(&fa, child[i], i);
        } else if (modes[i] == WEFT_DEVNULL) {
            err = -posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i ? O_WRONLY : O_RDONLY, 0);
        }
    }
    if (!err && modes[2] == WEFT_STDOUT)
        err = -posix_spawn_file_actions_adddup2(&fa, 1, 2); /* after stdout is set up */
    if (!err) err = keep_only(&fa, opt->pass_fds, opt->pass_fds_count);
    /* The child starts with every signal at its default action and none
     * blocked, whatever the parent (weft's SIGINT handler, an ignored
     * SIGPIPE, a task waiting for SIGTERM) has set. */
    sigset_t all, none_set;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none_set);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none_set);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (opt->new_session) {
        flags |= POSIX_SPAWN_SETSID;
    } else if (opt->new_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr, 0); /* 0: a group named by the child's pid */
    }
    p->own_group = opt->new_session || opt->new_group;
    posix_spawnattr_setflags(&attr, flags);
    if (!err)
        err = -posix_spawnp(&p->pid, argv[0], &fa, &attr, argv, opt->env ? opt->env : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 3; i++)
        if (child[i] >= 0) close(child[i]);
    if (!err) {
        p->pidfd = pidfd_open(p->pid);
        for (int i = 0; i < 3; i++) {
            if (parent[i] < 0) continue;
            p->io[i] = weft_stream_from_fd(parent[i]);
            if (!p->io[i]) {
                err = -ENOMEM;
                break;
            }
            parent[i] = -1;
        }
        if (err) {
            weft_process_free(p); /* kills and reaps the child */
            p = NULL;
        }
    }
    for (int i = 0; i < 3; i++)
        if (parent[i] >= 0) close(parent[i]);
    if (err) {
        free(p);
        return err;
    }
    *out = p;
    return 0;
}

int weft_process_shell(const char *cmd, const weft_process_opts *opt, weft_process **out)
{
    if (!cmd) {
        if (out) *out = NULL;
        return -EINVAL;
    }
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    return weft_process_spawn(argv, opt, out);
}

weft_stream *weft_process_stdin(weft_process *p) { return p ? p->io[0] : NULL; }
weft_stream *weft_process_stdout(weft_process *p) { return p ? p->io[1] : NULL; }
weft_stream *weft_process_stderr(weft_process *p) { return p ? p->io[2] : NULL; }
pid_t weft_process_pid(const weft_process *p) { return p ? p->pid : -1; }

int weft_process_close_stdin(weft_process *p)
{
    int e = weft_check("weft_process_close_stdin");
    if (e == -EPERM) return e;
    if (!p) return -EINVAL;
    weft_stream *s = p->io[0];
    p->io[0] = NULL;
    /* Closed even for a cancelled caller (who gets the error): a close
     * must release what it holds. */
    return s ? weft_stream_close(s) : e;
}

/* Reaps the child if it has exited: 1 reaped, 0 still running, -errno. */
static int try_reap(weft_process *p, int options)
{
    siginfo_t si;
    si.si_pid = 0;
    int r;
    do r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | options);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno; /* -ECHILD: reaped elsewhere (SIGCHLD ignored) */
    if (si.si_pid != p->pid) return 0;
    p->status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    p->reaped = 1;
    return 1;
}

int weft_process_wait(weft_process *p)
{
    int e = weft_check("weft_process_wait");
    if (e == -EPERM) return e;
    if (!p) return -EINVAL;
    /* Checked before reaping: an exited child stays unreaped (its status
     * not lost) for a later wait, and a reaped one keeps its status. */
    if (e) return e;
    double nap = 0.001;
    while (!p->reaped) {
        int r = try_reap(p, WNOHANG);
        if (r < 0) return r;
        if (r) break;
        if (p->pidfd >= 0) {
            r = weft_wait_fd(p->pidfd, WEFT_READABLE);
        } else {
            r = weft_sleep(nap);
            nap = weft__backoff(nap, 0.05);
        }
        if (r < 0) return r;
    }
    return p->status;
}

int weft_process_kill(weft_process *p, int sig)
{
    if (!p) return -EINVAL;
    if (p->reaped) return -ESRCH;
#ifdef SYS_pidfd_send_signal
    /* Through the pidfd the signal cannot reach a process that reused the pid. */
    if (p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0) return 0;
    if (p->pidfd >= 0 && errno != ENOSYS) return -errno;
#endif
    return kill(p->pid, sig) < 0 ? -errno : 0;
}

int weft_process_kill_group(weft_process *p, int sig)
{
    if (!p || !p->own_group) return -EINVAL;
    /* After the reap: Linux does not hand out a pid that still names a
     * process group, so while anything of the group lives, the pgid is
     * ours. Once the group is empty the pid may be reused (after the pid
     * space wraps): a live process with that pid then means the group is
     * gone and the pid is someone else's, who must not be signalled. */
    if (p->reaped && kill(p->pid, 0) == 0) return -ESRCH;
    return killpg(p->pid, sig) < 0 ? -errno : 0;
}

void weft_process_free(weft_process *p)
{
    if (!p) return;
    for (int i = 0; i < 3; i++) weft_stream_abort(p->io[i]);
    if (!p->reaped) {
        /* Not waiting as a task: a SIGKILLed child is gone within
         * microseconds, so the blocking reap is short (unless the child is
         * stuck in an uninterruptible sleep, which nothing can shorten). */
        weft_process_kill(p, SIGKILL);
        try_reap(p, 0);
    }
    if (p->pidfd >= 0) weft_close(p->pidfd);
    free(p);
}
