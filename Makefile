# Convenience wrapper around CMake and ctest. The two commands the README
# opens with:
#   make demo    install what is missing, build, run the example project end to end
#   make check   install what is missing, build, run every test, then again under
#                AddressSanitizer + UndefinedBehaviorSanitizer
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all deps build check test asan tsan demo bench lint clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --no-tests=error

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --no-tests=error

# ThreadSanitizer over the tests that run threads (the parallel CSV reader,
# the store, the pool, the inference server and its log).
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j $(JOBS) -R 'csv|dataset|store|pool|serve'

check: test asan

demo: build
	@bash examples/demo.sh $(BUILD)/sluice

bench: build
	@bash bench/run.sh $(BUILD)/sluice

# Static analysis: clang-tidy (checks in .clang-tidy) and cppcheck.
lint: build
	clang-tidy -p $(BUILD) --quiet --extra-arg=-Wno-unknown-warning-option $(wildcard src/*/*.c) 2>/dev/null | grep -E 'warning:|error:' || true
	cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=unknownMacro -I include -I src -I src/core src

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan build-fuzz
