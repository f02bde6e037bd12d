#!/usr/bin/env bash
# ctest install: `cmake --install` of the build into a temporary prefix, then
# a small program built against that tree as a user would, with pkg-config
# (the shared library) and with find_package(weft) (weft::weft and
# weft::weft_static), each run; the gdb extension and the man page are where
# the README says. Usage: install_check.sh BUILD_DIR CC "SANITIZER FLAGS"
set -euo pipefail
build=$1 cc=$2 san=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
libdir=$(find "$prefix" -name 'libweft.so' -printf '%h\n' | head -1)
[ -n "$libdir" ] || fail "no libweft.so under $prefix"
cfgdir=$libdir/cmake/weft
for f in "$libdir/libweft.a" "$libdir/pkgconfig/weft.pc" "$prefix/include/weft.h" \
         "$prefix/include/weft/test.h" "$cfgdir/weftConfig.cmake" \
         "$cfgdir/weftConfigVersion.cmake" "$cfgdir/weftTargets.cmake" \
         "$prefix/share/weft/gdb/weft.py"; do
  [ -f "$f" ] || fail "not installed: ${f#$prefix/}"
done
if [ -x "$build/tools/weft/weft" ]; then
  [ -x "$prefix/bin/weft" ] || fail "not installed: bin/weft"
  man=$prefix/share/man/man1/weft.1
  [ -f "$man" ] || fail "not installed: share/man/man1/weft.1"
  # the page renders without a warning, and says which version it documents
  warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1) || fail "groff: $warn"
  [ -z "$warn" ] || fail "man page warnings: $warn"
  grep -q "\"weft $(sed -n 's/^Version: //p' "$libdir/pkgconfig/weft.pc")\"" "$man" ||
    fail "the man page's version is not the library's"
fi

# Tasks, a sleep and the error table: enough to need the library for real.
cat >"$tmp/hello.c" <<'C'
#include <weft.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef WITH_JSON /* weft/http_json.h names jansson: its users link it too */
#include <weft/http_json.h>
#endif
static int child(void *arg) { weft_sleep(0.001); return *(int *)arg * 2; }
static int main_task(void *arg)
{
    int v = 21, r[1];
    weft_task *t = weft_spawn(child, &v);
    if (weft_gather(&t, 1, r) < 0) return 1;
#ifdef WITH_JSON
    json_t *j = json_integer(r[0]);
    r[0] = (int)json_integer_value(j);
    json_decref(j);
#endif
    printf("%d %s\n", r[0], weft_strerror(-ETIMEDOUT));
    return 0;
}
int main(void) { return weft_run(main_task, NULL) != 0; }
C
json=
[ -f "$prefix/include/weft/http_json.h" ] && json=-DWITH_JSON
want="42 timed out"  # weft_strerror's own words for -ETIMEDOUT
check_run() {
  local out
  out=$("$1") || fail "$1 exited $?"
  [ "$out" = "$want" ] || fail "$1 printed '$out', not '$want'"
}

# pkg-config: the .pc names the configured prefix; --define-variable points
# it at this one, as for any relocated tree.
pc=(env PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --define-variable=prefix="$prefix")
"${pc[@]}" --exists weft || fail "pkg-config does not find weft"
# shellcheck disable=SC2046
"$cc" $san $json "$tmp/hello.c" -o "$tmp/hello_pc" $("${pc[@]}" --cflags --libs weft) \
  -Wl,-rpath,"$libdir" || fail "cc with pkg-config"
check_run "$tmp/hello_pc"

# CMake: find_package with a version, the shared and the static target.
mkdir "$tmp/proj"
cp "$tmp/hello.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(hello C)
find_package(weft 0.1 REQUIRED)
add_executable(hello_shared hello.c)
target_link_libraries(hello_shared weft::weft)
add_executable(hello_static hello.c)
target_link_libraries(hello_static weft::weft_static)
if(HELLO_JSON)
  target_compile_definitions(hello_shared PRIVATE WITH_JSON)
  target_compile_definitions(hello_static PRIVATE WITH_JSON)
endif()
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
  -DCMAKE_BUILD_RPATH="$libdir" -DHELLO_JSON="${json:+ON}" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/proj/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "cmake build"; }
check_run "$tmp/proj/build/hello_shared"
check_run "$tmp/proj/build/hello_static"
# (ldd's output kept first: grep -q leaving early would fail the pipe)
libs=$(ldd "$tmp/proj/build/hello_shared")
grep -q "$libdir/libweft.so" <<<"$libs" || fail "hello_shared does not use the installed libweft.so"
# a version the tree does not have is refused
sed -i 's/find_package(weft 0.1 REQUIRED)/find_package(weft 7.0 REQUIRED)/' "$tmp/proj/CMakeLists.txt"
if cmake -S "$tmp/proj" -B "$tmp/proj/build2" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  fail "find_package(weft 7.0) accepted version $(sed -n 's/^Version: //p' "$libdir/pkgconfig/weft.pc")"
fi
echo "install ok: pkg-config, find_package(weft) shared and static, gdb extension, man page"
