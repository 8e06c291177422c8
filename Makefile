# Thin wrapper around CMake. `make` installs missing Debian packages (via
# scripts/install-deps), configures and builds build/sonodream.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure python test test-asan test-valgrind fuzz bench demo clean install uninstall deb test-deb

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

test: all
	@SONO_WITH_BROWSER=1 SONO_WITH_PYTHON_PACKAGE=1 scripts/install-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The Python package (python/) into a venv: $(BUILD)/venv, or the active one
# ($$VIRTUAL_ENV). Offline, with Debian's numpy, cffi and setuptools.
PYTHON_VENV ?= $(or $(VIRTUAL_ENV),$(BUILD)/venv)
python: all
	@SONO_WITH_PYTHON_PACKAGE=1 scripts/install-deps
	scripts/python-install $(PYTHON_VENV) $(BUILD)
	@echo "installed: $(PYTHON_VENV)/bin/python -c 'import sonodream'"

test-asan: deps
	@SONO_WITH_BROWSER=1 scripts/install-deps
	@test -f build-asan/CMakeCache.txt || cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSONO_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		ctest --output-on-failure -j $(JOBS)

# The pipeline end to end under valgrind memcheck, from a build without
# -march=native (valgrind does not decode AVX-512).
test-valgrind: deps
	@SONO_WITH_VALGRIND=1 scripts/install-deps
	@test -f build-valgrind/CMakeCache.txt || cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSONO_NATIVE=OFF
	cmake --build build-valgrind -j $(JOBS) --target sonodream_cli
	tests/valgrind/e2e.sh build-valgrind/sonodream

# Each libFuzzer target for FUZZ_SECONDS (see scripts/fuzz); 0 replays the
# committed corpus only.
FUZZ_SECONDS ?= 60
fuzz: deps
	@SONO_WITH_FUZZ=1 scripts/install-deps
	@test -f build-fuzz/CMakeCache.txt || CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSONO_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	scripts/fuzz $(FUZZ_SECONDS)

bench: all
	bench/run-all

demo: all
	scripts/demo

# make install [PREFIX=/usr/local] [DESTDIR=...]: the program, libsonodream.so
# and .a, headers, sonodream.pc, the CMake package, man pages, bash completion,
# the shipped model and examples (share/sonodream/). make uninstall removes
# what the last install wrote (build/install_manifest.txt; give the same DESTDIR).
PREFIX ?= /usr/local
install: configure
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

uninstall:
	DESTDIR=$(DESTDIR) cmake --build $(BUILD) --target uninstall

# Debian packages (CPack) in build-deb/: built for /usr, without -march=native.
deb: deps
	@SONO_WITH_DEB=1 scripts/install-deps
	@test -f build-deb/CMakeCache.txt || cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX=/usr -DSONO_NATIVE=OFF
	cmake --build build-deb -j $(JOBS)
	cd build-deb && cpack -G DEB
	@ls build-deb/*.deb

# The packages installed, run and removed on this machine (root; CI).
test-deb: deb
	tests/install/deb.sh build-deb

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-valgrind build-deb
