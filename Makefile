# Thin wrapper over CMake. `make demo` and `make test` are the two commands a
# newcomer needs; both install missing Debian packages first when run as root.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all test test-poll demo bench install asan tsan aarch64 valgrind fuzz clean deps

all:
	@tools/deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: all
	@tools/deps.sh test
	@tools/test.sh $(BUILD)

# The core and io suites (ctest label "backend") on the poll(2) backend:
# every backend is compiled in, WEFT_BACKEND picks one per loop.
test-poll: all
	@cd $(BUILD) && WEFT_BACKEND=poll ctest --output-on-failure -j 2 -L backend

demo: all
	@tools/demo.sh $(BUILD)

bench: all
	@tools/deps.sh bench
	@bench/run.sh $(BUILD)

install: all
	@cmake --install $(BUILD) --prefix $(PREFIX)
	@# the dynamic linker's cache, or programs linked with -lweft do not find libweft.so.0
	@if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@tools/deps.sh build test
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DWEFT_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@tools/test.sh build-asan

# Every fuzz target (fuzz/build.sh) built with clang's libFuzzer, ASan and
# UBSan, each run FUZZ_SECONDS (default 10 minutes); the inputs that reach
# new coverage, and any that crash, go into fuzz/corpus to be committed.
FUZZ_SECONDS ?= 600
fuzz:
	@tools/deps.sh build test
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/build.sh -r

# The cross-thread tests (several loops, channels, posts and calls from
# threads, the thread pool) under ThreadSanitizer, on each backend; the core
# alone, so it builds fast. Any report fails it.
tsan:
	@tools/deps.sh build
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DWEFT_TSAN=ON -DWEFT_CORE_ONLY=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target test_core_loops test_core_chan test_core_chan_free test_core_thread test_core_dump_loops
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tools/tsan.supp" ctest --output-on-failure -R '^core_(loops|chan|chan_free|thread|dump_loops)$$'
	@# again on the poll(2) backend: its wake (a pipe) is what other threads touch
	@cd build-tsan && WEFT_BACKEND=poll TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tools/tsan.supp" ctest --output-on-failure -R '^core_(loops|chan|chan_free|thread|dump_loops)$$'

# The core suite under valgrind's memcheck (stacks registered with
# VALGRIND_STACK_REGISTER); any report fails it.
valgrind:
	@tools/deps.sh build
	@cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CORE_ONLY=ON >/dev/null
	@cmake --build build-valgrind -j $(JOBS)
	@tools/valgrind.sh build-valgrind

# The core suite built for aarch64 and run under qemu-user.
aarch64:
	@tools/deps.sh build cross
	@cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/aarch64.cmake -DWEFT_CORE_ONLY=ON >/dev/null
	@cmake --build build-aarch64 -j $(JOBS)
	@cd build-aarch64 && ctest --output-on-failure -j 2

clean:
	rm -rf build build-asan build-tsan build-aarch64 build-valgrind build-fuzz
