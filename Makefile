# takt — build, test, demo. `make help` lists the targets.
#
# Sources are discovered, so adding a module or a test needs no edit here:
#   pkg/<mod>/*.c          -> build/libtakt.a
#   cmd/<prog>/*.c         -> bin/<prog>
#   tests/unit/test_*.c    -> build/tests/test_* (cmocka, TAP output)
#   tests/fuzz/fuzz_*.c    -> build/fuzz/fuzz_* (libFuzzer, clang; `make fuzz`)
#   tests/bench/bench_*.c  -> build/bench/bench_*
#   tests/integration/itest_*.c -> build/itests/itest_* (cmocka, run by
#                            `make e2e` against the live control plane)

include scripts/versions.env

CC       ?= cc
PKGS     := libcurl libcjson yaml-0.1 openssl libmicrohttpd zlib
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Ipkg \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -MMD -MP
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

# make SANITIZE=address,undefined: instrumented binaries and tests, in their
# own build directory so they never mix with normal objects.
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZE)
BUILD      ?= build-san
BIN        ?= bin-san
endif
BUILD ?= build
# tests/run.sh reads BUILD to find the (possibly sanitized) test binaries.
export BUILD
BIN   ?= bin

PKG_SRC   := $(wildcard pkg/*/*.c)
PKG_OBJ   := $(PKG_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libtakt.a
CMDS      := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/*.c)))))
CMD_BINS  := $(CMDS:%=$(BIN)/%)
TEST_SRC  := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/itest_*.c)
ITEST_BINS:= $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BINS:= $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all help deps deps-dev test unit e2e crosscheck valgrind chaos demo demo-down \
        cluster-up cluster-down cluster-bins lint fmt fuzz fuzz-run bench \
        bench-cron bench-lag bench-scale clean tests image
.DEFAULT_GOAL := all
# Keep intermediate objects: relinking must not recompile.
.SECONDARY:

all: $(CMD_BINS)

help:
	@echo "make            build bin/takt-controller and bin/kubectl-takt"
	@echo "make test       install deps, build, run unit + e2e tests (the CI command)"
	@echo "make demo       bring up a local control plane and show takt working"
	@echo "make unit       unit tests only (no cluster)"
	@echo "make e2e        e2e tests only (starts and stops the control plane)"
	@echo "make valgrind   unit tests under valgrind"
	@echo "make SANITIZE=address,undefined unit   unit tests under ASan/UBSan"
	@echo "make cluster-up / cluster-down          the local control plane"
	@echo "make chaos      the chaos soak: 2 replicas, leader kills, apiserver/etcd freezes (CHAOS_SECONDS=600)"
	@echo "make lint / fmt / fuzz / bench"
	@echo "make image      the container image (buildah, no daemon; prints its size)"

deps:
	@bash scripts/deps.sh
deps-dev:
	@bash scripts/deps.sh dev

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(PKG_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Each command links its own objects (cmd/<prog>/*.c) with the library.
.SECONDEXPANSION:
$(BIN)/%: $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL) -lcmocka

$(BUILD)/itests/%: $(BUILD)/tests/integration/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL) -lcmocka

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL)

tests: $(TEST_BINS) $(ITEST_BINS) $(CMD_BINS)

# The CI command: deps, build, unit tests, e2e tests, one closing line.
test: deps
	@$(MAKE) --no-print-directory tests
	@bash tests/run.sh all

unit: tests
	@bash tests/run.sh unit

e2e: deps
	@$(MAKE) --no-print-directory tests
	@bash tests/run.sh e2e

valgrind: tests
	@VALGRIND=1 bash tests/run.sh unit

crosscheck: tests
	@bash tests/run.sh crosscheck

# The Dockerfile, built with buildah (scripts/image.sh); TAKT_IMAGE names it.
image: deps
	@bash scripts/image.sh

cluster-bins:
	@bash scripts/build-cluster-bins.sh >/dev/null
cluster-up: deps
	@bash scripts/cluster.sh up
cluster-down:
	@bash scripts/cluster.sh down

# The chaos soak (scripts/chaos.sh): 10 minutes by default, CHAOS_SECONDS
# to change; brings the local control plane up if it is not (and leaves it).
chaos: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/cluster.sh up >/dev/null
	@bash scripts/chaos.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh
demo-down: cluster-down

lint: deps-dev
	@bash scripts/lint.sh
fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

# libFuzzer targets: clang, with ASan/UBSan; the library sources are compiled
# into each fuzzer directly so they carry the coverage instrumentation.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ipkg $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
              -fsanitize=fuzzer,address,undefined
build-fuzz/%: tests/fuzz/%.c $(PKG_SRC) $(wildcard pkg/*/*.h tests/fuzz/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(PKG_SRC) $(LDLIBS_ALL)
fuzz: deps-dev
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
fuzz-run: fuzz
	@bash scripts/fuzz.sh

bench: $(BENCH_BINS) $(CMD_BINS)
	@bash scripts/bench.sh all
bench-cron: $(BENCH_BINS)
	@bash scripts/bench.sh cron
bench-lag: $(CMD_BINS)
	@bash scripts/bench.sh lag
# Not part of `make bench`: minutes, and thousands of objects on the cluster.
bench-scale: $(CMD_BINS)
	@bash scripts/bench-scale.sh

clean:
	rm -rf build build-san build-fuzz bin bin-san

-include $(PKG_OBJ:.o=.d) $(wildcard $(BUILD)/cmd/*/*.d) $(wildcard $(BUILD)/tests/*/*.d)
