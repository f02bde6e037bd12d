# gdb extension for weft: list the tasks of every loop of the process and
# show where a parked task is suspended.
#
#   (gdb) source tools/gdb/weft.py
#   (gdb) weft-tasks          # every loop's tasks: id, state, name, what it waits on, spawn site
#   (gdb) weft-tasks here     # only the loop of the selected thread
#   (gdb) weft-bt 3           # backtrace of task 3 of the selected thread's loop
#   (gdb) weft-bt 1:3         # task 3 of loop 1 (task ids are per loop)
#
# A loop is the thread-local weft__L of the thread that runs it (loop i of
# a run with several loops runs on a thread of its own, loop 0 on the
# caller's); the listing visits every thread and lists each loop found,
# grouped under "loop N (thread T)". Tasks live in 2 MiB slab chunks
# (struct weft__slab_chunk: next, used) whose slots start 64 bytes in. A
# parked task's registers are on its stack at task->sp, in the order
# weft__ctx_switch pushed them (src/core/ctx_x86_64.S, ctx_aarch64.S); the
# run state (what it waits on) of a started task is a struct weft__run
# at the top of its stack (RUN(t) in src/core/internal.h):
# weft-bt loads them into the selected thread, prints the backtrace, and
# restores the real registers. It needs a live process (registers of a core
# file cannot be changed).
import gdb

STATES = ["free", "new", "ready", "running", "waiting", "done", "batch of group members",
          "handle of a task on another loop"]
WAITS = ["-", "sleep", "task", "semaphore", "lock", "event", "condition",
         "queue", "fd", "thread", "group", "yield", "room", "connections",
         "channel", "dns", "barrier"]


def _loop():
    try:
        L = gdb.parse_and_eval("weft__L")
    except gdb.error as e:
        raise gdb.GdbError("cannot read weft__L (is weft linked, with debug info?): %s" % e)
    if int(L) == 0:
        raise gdb.GdbError("no weft loop runs on this thread (weft__L is NULL)")
    return L


def _loops():
    """(thread, loop) for every thread of the inferior that runs a loop, by
    loop index; the selected thread is selected again afterwards."""
    here = gdb.selected_thread()
    found = []
    try:
        for th in gdb.selected_inferior().threads():
            th.switch()
            try:
                L = gdb.parse_and_eval("weft__L")
            except gdb.error:
                continue
            if int(L) != 0:
                found.append((th, L))
    finally:
        if here is not None:
            here.switch()
    if not found:
        raise gdb.GdbError("no weft loop runs in this process (weft__L is NULL on every thread)")
    return sorted(found, key=lambda tl: int(tl[1]["index"]))


def _tasks(L):
    task_t = gdb.lookup_type("struct weft_task")
    ptr_t = task_t.pointer()
    c = L["chunks"]
    while int(c) != 0:
        used = int(c["used"])
        base = (c.cast(gdb.lookup_type("char").pointer()) + 64).cast(ptr_t)
        for i in range(used):
            t = base[i]
            if int(t["state"]) != 0:
                yield t
        c = c["next"]


def _run(t):
    """The run state of a task that holds a stack, or None."""
    if int(t["stack"]) == 0:
        return None
    run_t = gdb.lookup_type("weft__run")
    area = (run_t.sizeof + 15) & ~15
    char_p = gdb.lookup_type("char").pointer()
    return (t["stack"].cast(char_p) - area).cast(run_t.pointer()).dereference()


def _str(p):
    if int(p) == 0:
        return None
    try:
        return p.string()
    except gdb.error:
        return "?"


def _describe(L, t):
    state = int(t["state"])
    name = _str(t["name"]) or ""
    desc = STATES[state] if state < len(STATES) else str(state)
    if int(L["current"]) == int(t.address):
        desc = "running (current)"
    r = _run(t)
    if state == 4 and r is not None:
        k = int(r["wait_kind"])
        w = WAITS[k] if k < len(WAITS) else str(k)
        if k == 8:
            w += " %d" % int(r["wait_fd"])
        elif k == 12 and int(r["wait_fd"]) >= 0:
            w += " on fd %d" % int(r["wait_fd"])
        if k in (3, 4, 5, 6, 7, 12, 13):
            w += " (wait list %s)" % r["wlist"]
        desc += ", waits on " + w
    if int(t["flags"]) & 1:
        desc += ", cancel requested"
    site = ""
    d = t["dbg"]
    if int(d) != 0:
        f = _str(d["file"]) or "?"
        site = f if int(d["line"]) <= 0 else "%s:%d" % (f, int(d["line"]))
    return "%-5d %-20s %s%s" % (int(t["id"]), name, desc,
                                 ("  [spawned at %s]" % site) if site else "")


class WeftTasks(gdb.Command):
    """List the tasks of every weft loop (weft-tasks), or of the selected thread's (weft-tasks here)"""

    def __init__(self):
        super().__init__("weft-tasks", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        if arg.strip() == "here":
            loops = [(gdb.selected_thread(), _loop())]
        else:
            loops = _loops()
        n = 0
        for th, L in loops:
            if len(loops) > 1:
                gdb.write("loop %d (thread %d):\n" % (int(L["index"]), th.num))
            gdb.write("%-5s %-20s %s\n" % ("id", "name", "state"))
            for t in _tasks(L):
                gdb.write(_describe(L, t) + "\n")
                n += 1
        if len(loops) > 1:
            gdb.write("%d task(s) on %d loops\n" % (n, len(loops)))
        else:
            gdb.write("%d task(s)\n" % n)


def _saved_regs(t):
    """(register -> value) of a parked task, from its saved stack."""
    arch = gdb.selected_frame().architecture().name()
    u64 = gdb.lookup_type("unsigned long").pointer()
    sp = t["sp"].cast(u64)
    spv = int(t["sp"])
    if "x86-64" in arch:
        names = ["r15", "r14", "r13", "r12", "rbx", "rbp"]
        regs = {n: int(sp[i]) for i, n in enumerate(names)}
        regs["rip"] = int(sp[6])
        regs["rsp"] = spv + 7 * 8
        return regs
    if "aarch64" in arch:
        regs = {"x%d" % (19 + i): int(sp[i]) for i in range(12)}  # x19..x30
        regs["pc"] = regs["x30"]
        regs["sp"] = spv + 160
        return regs
    raise gdb.GdbError("weft-bt: unsupported architecture %s" % arch)


class WeftBt(gdb.Command):
    """Backtrace of a weft task: weft-bt [LOOP:]ID [bt options]"""

    def __init__(self):
        super().__init__("weft-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: weft-bt [LOOP:]TASK-ID")
        if ":" in argv[0]:
            loop_no, want = (int(x) for x in argv[0].split(":", 1))
            match = [tl for tl in _loops() if int(tl[1]["index"]) == loop_no]
            if not match:
                raise gdb.GdbError("no loop %d" % loop_no)
            here = gdb.selected_thread()
            match[0][0].switch()  # its registers are shown, then restored, on its thread
            try:
                self._show(match[0][1], want, argv[1:])
            finally:
                here.switch()
            return
        self._show(_loop(), int(argv[0]), argv[1:])

    def _show(self, L, want, rest):
        task = None
        for t in _tasks(L):
            if int(t["id"]) == want:
                task = t
                break
        if task is None:
            raise gdb.GdbError("no task %d" % want)
        extra = " ".join(rest)
        gdb.write(_describe(L, task) + "\n")
        if int(L["current"]) == int(task.address):
            gdb.execute("bt " + extra)
            return
        if int(task["sp"]) == 0 or int(task["stack"]) == 0:
            raise gdb.GdbError("task %d has no saved context (state %s)"
                               % (want, STATES[int(task["state"])]))
        regs = _saved_regs(task)
        gdb.execute("frame 0", to_string=True)
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in regs}
        try:
            for r, v in regs.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)
            gdb.execute("bt " + extra)
        finally:
            gdb.execute("frame 0", to_string=True)
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)


WeftTasks()
WeftBt()
