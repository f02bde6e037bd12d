#!/usr/bin/python3
"""Keeps docs/guide.md's code blocks identical to the programs they show.

Each block in the guide is preceded by a marker line
    <!-- example: examples/guide_x.c -->
and is exactly that file, which CI builds and runs. With no argument the
blocks are rewritten from the files; with --check the script only compares
and exits 1 (naming the files) if any block differs or a file is missing.
Usage: tools/guide_sync.py [--check] [ROOT]"""
import re
import sys

args = [a for a in sys.argv[1:] if a != "--check"]
check = "--check" in sys.argv[1:]
root = args[0] if args else "."
path = root + "/docs/guide.md"
text = open(path).read()
pat = re.compile(r"(<!-- example: (\S+) -->\n```c\n)(.*?)(```\n)", re.S)
bad = []
count = 0


def sub(m):
    global count
    count += 1
    try:
        src = open(root + "/" + m.group(2)).read()
    except OSError:
        bad.append(m.group(2) + " (missing)")
        return m.group(0)
    if src != m.group(3):
        bad.append(m.group(2))
    return m.group(1) + src + m.group(4)


new = pat.sub(sub, text)
if check:
    if bad or count == 0:
        print("guide blocks out of date: " + (", ".join(bad) or "no blocks found"))
        sys.exit(1)
    print("guide ok: %d blocks" % count)
else:
    open(path, "w").write(new)
    print("guide: %d blocks, %d updated" % (count, len(bad)))
