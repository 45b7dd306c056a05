# tomed — one non-recursive Makefile.
#
#   make            build build/tomed
#   make run        install missing Debian packages, build, serve the example site
#   make test       install missing Debian packages, build, run every test (what CI runs)
#   make check      the quick part of it: unit, integration, fuzz corpora once
#   make unit       C unit tests (cmocka)           make integration  pytest suite
#   make asan       ASan+UBSan build in build/asan   make test-asan    whole suite on it
#   make clean
#
# Warnings are errors when CI=true (as .ci/run sets it) or WERROR=1.

VERSION     := 0.1.0
BUILD       ?= build
CC          ?= cc
PKG_CONFIG  ?= pkg-config
PKGS        := libmicrohttpd zlib libbrotlienc libbrotlidec yaml-0.1 libcrypto
PYTHON      ?= /usr/bin/python3

# Debian packages: what building, running and testing need (see README "Dependencies").
DEB_BUILD   := build-essential pkg-config libmicrohttpd-dev zlib1g-dev libbrotli-dev \
               libyaml-dev libssl-dev
DEB_TEST    := libcmocka-dev curl python3-pytest brotli gzip prometheus chromium \
               clang libclang-rt-14-dev nodejs
# Commands whose Debian package of the same name is installed only when the
# command is missing: Debian 12 packages npm apart from nodejs, while a
# nodejs that bundles npm (NodeSource's) conflicts with that package.
DEB_TEST_CMDS := npm

WARN        := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
               -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wundef
ifneq ($(filter true 1,$(CI) $(WERROR)),)
WARN        += -Werror
endif

OPT         ?= -O2 -g
PKG_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS     = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CPPFLAGS    += -Iinclude -D_GNU_SOURCE -DTOMED_VERSION='"$(VERSION)"'
CFLAGS      += -std=c11 $(OPT) $(WARN) $(SAN) -fno-strict-aliasing -pthread $(PKG_CFLAGS)
LDFLAGS     += $(SAN) -pthread
LDLIBS      += $(PKG_LIBS)

# Linked into build/tomed only: main, and epolldrain.c's epoll_wait, which
# replaces libc's for libmicrohttpd (see that file); unit tests and fuzzers
# link libtomed.a or the sources they name, never these.
TOMED_ONLY_SRC := src/main.c src/epolldrain.c
LIB_SRC     := $(filter-out $(TOMED_ONLY_SRC),$(wildcard src/*.c))
LIB_OBJ     := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test check unit integration asan test-asan asan-suite bench clean
.DELETE_ON_ERROR:

all: $(BUILD)/tomed

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libtomed.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/tomed: $(TOMED_ONLY_SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/libtomed.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtomed.a | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
	    $(BUILD)/libtomed.a $(LDFLAGS) $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# epolldrain.o is not in libtomed.a (TOMED_ONLY_SRC): its test links it itself.
$(BUILD)/tests/test_epolldrain: $(BUILD)/obj/epolldrain.o
$(BUILD)/tests/test_epolldrain: LDLIBS += $(BUILD)/obj/epolldrain.o

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

-include $(wildcard $(BUILD)/obj/*.d)

# Missing Debian packages are installed when we are root (CI, containers, a
# fresh VM); otherwise the exact command is printed and make stops.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	for c in $(DEB_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	    echo "deps: missing Debian packages; run:"; echo "    sudo apt-get install -y$$missing"; exit 1; \
	fi

run: DEB_PKGS = $(DEB_BUILD)
run: deps
	$(MAKE) --no-print-directory all
	$(BUILD)/tomed serve examples/site/docs --base /tomeclicker

# Everything CI runs (.ci/run), fastest feedback first; about 10 minutes here
# once the packages are in. `make check` is the first step alone (~2 min).
test: DEB_CMDS = $(DEB_TEST_CMDS)
test: DEB_PKGS = $(DEB_BUILD) $(DEB_TEST) $(DEB_SOAK) $(DEB_CONTAINER) $(DEB_TRIXIE)
test: deps
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory test-trixie
	$(MAKE) --no-print-directory -j2 fuzz-ci
	$(MAKE) --no-print-directory asan-suite
	$(MAKE) --no-print-directory memcheck soak-ci
	$(MAKE) --no-print-directory test-container
	$(MAKE) --no-print-directory test-arm64

check: DEB_CMDS = $(DEB_TEST_CMDS)
check: DEB_PKGS = $(DEB_BUILD) $(DEB_TEST)
check: deps
	$(MAKE) --no-print-directory all unit integration
	$(MAKE) --no-print-directory -j2 fuzz-regress

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

# playwright-core for the browser tests, as tests/browser/package-lock.json pins
# it; it never downloads a browser: the tests drive Debian's chromium.
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json
$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund

# kubernetes-models and yaml for the deploy/k8s checks (tests/deploy/*.mjs, run by
# tests/integration/test_deploy.py), as tests/deploy/package-lock.json pins them.
DEPLOY_DEPS := tests/deploy/node_modules/.package-lock.json
$(DEPLOY_DEPS): tests/deploy/package.json tests/deploy/package-lock.json
	npm ci --prefix tests/deploy --no-audit --no-fund

integration: $(BUILD)/tomed $(BROWSER_DEPS) $(DEPLOY_DEPS)
	TOMED_BIN=$(abspath $(BUILD)/tomed) $(PYTHON) -m pytest -q tests/integration

# The integration harness fails a test on any sanitizer report in tomed's
# stderr, and on a non-zero exit (LeakSanitizer's at shutdown).
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
asan:
	$(ASAN_MAKE) all

test-asan: DEB_CMDS = $(DEB_TEST_CMDS)
test-asan: DEB_PKGS = $(DEB_BUILD) $(DEB_TEST)
test-asan: deps
	$(MAKE) --no-print-directory asan-suite

asan-suite:
	$(ASAN_MAKE) all unit integration

# tomed against a tuned nginx on this machine, side by side (bench/bench.py):
# writes docs/benchmarks.md. BENCH_ARGS=--quick for a short run. As root, the
# same cases also run on tomed built against Debian 13's libmicrohttpd 1.0.1
# (tests/trixie/build.sh: the cached trixie root of `make test-trixie`).
DEB_BENCH   := nginx wrk brotli gzip
bench: DEB_PKGS = $(DEB_BUILD) $(DEB_BENCH) $(DEB_TRIXIE)
bench: deps
	$(MAKE) --no-print-directory all
	@if [ "$$(id -u)" = 0 ]; then tests/trixie/build.sh; \
	else echo "bench: not root: no libmicrohttpd 1.0.1 build (tests/trixie/), one tomed only"; fi
	$(PYTHON) bench/bench.py --tomed $(abspath $(BUILD)/tomed) --out docs/benchmarks.md \
	    $$([ -x build/trixie/tomed ] && [ "$$(id -u)" = 0 ] && echo --tomed-alt $(abspath build/trixie/tomed)) $(BENCH_ARGS)
	$(PYTHON) bench/memory.py --tomed $(abspath $(BUILD)/tomed) --out docs/benchmarks.md

clean:
	rm -rf build

# ---- fuzzing ----
# libFuzzer targets for the pure parsers (tests/fuzz/README.md). Built with
# clang, ASan and UBSan straight from the sources they need (build/libtomed.a
# is gcc-built without sanitizers) into $(FUZZ_BUILD). Needs clang and
# libclang-rt-14-dev.
#
#   make fuzz [FUZZ_TIME=60] [FUZZ_TARGETS="path glob"]   fuzz each target FUZZ_TIME seconds
#   make fuzz-ci                                           each target FUZZ_CI_TIME (8) seconds
#   make fuzz-regress                                      every corpus and regression input once
#   make fuzz-merge                                        add what build/fuzz/work found to the corpus
# -j runs targets in parallel. Runs never write into tests/fuzz/: new inputs go
# to $(FUZZ_BUILD)/work/<target>, crashes to $(FUZZ_BUILD)/artifacts/<target>/.

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build/fuzz
FUZZ_TIME    ?= 60
FUZZ_CI_TIME ?= 8
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer -pthread \
                $(filter-out -Werror,$(WARN)) $(PKG_CFLAGS)
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)

# src/*.c each target links, besides its own file.
FUZZ_SRC_path               := path
FUZZ_SRC_http_range         := http
FUZZ_SRC_http_conditional   := http
FUZZ_SRC_accept_encoding    := encoding
FUZZ_SRC_config             := config log utf8 error netaddr
FUZZ_SRC_config_set         := config log utf8 error netaddr
FUZZ_SRC_sveltekit_detect   := sveltekit path config log utf8 error netaddr
FUZZ_SRC_glob               := policy
FUZZ_SRC_log                := log utf8
FUZZ_SRC_diag               := diag utf8
# route needs a snapshot, and site.c keeps gaining dependencies: link them all.
FUZZ_SRC_route              := $(LIB_SRC:src/%.c=%)
FUZZ_SRC_rewrite            := rewrite html
FUZZ_SRC_csp                := csp html
FUZZ_SRC_reqhead            := reqhead
FUZZ_SRC_netaddr            := netaddr
FUZZ_SRC_html_diff          := csp rewrite html
FUZZ_SRC_siterules          := siterules path

.PHONY: fuzz fuzz-ci fuzz-regress fuzz-merge fuzz-build \
        $(FUZZ_ALL:%=fuzz-run-%) $(FUZZ_ALL:%=fuzz-regress-%) $(FUZZ_ALL:%=fuzz-merge-%)

$(FUZZ_BUILD)/obj/%.o: src/%.c | $(FUZZ_BUILD)/obj
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj:
	mkdir -p $@

-include $(wildcard $(FUZZ_BUILD)/obj/*.d $(FUZZ_BUILD)/*.d)

define FUZZ_TARGET
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1):%=$(FUZZ_BUILD)/obj/%.o) | $(FUZZ_BUILD)/obj
	$$(FUZZ_CC) $$(CPPFLAGS) $$(FUZZ_CFLAGS) $$(FUZZ_SAN) -fsanitize=fuzzer -MMD -MP \
	    -MF $(FUZZ_BUILD)/fuzz_$(1).d -o $$@ $$< $(FUZZ_SRC_$(1):%=$(FUZZ_BUILD)/obj/%.o) $$(PKG_LIBS)
fuzz-run-$(1): $(FUZZ_BUILD)/fuzz_$(1)
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh fuzz $$< $(1) $$(FUZZ_TIME)
fuzz-regress-$(1): $(FUZZ_BUILD)/fuzz_$(1)
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh regress $$< $(1)
fuzz-merge-$(1): $(FUZZ_BUILD)/fuzz_$(1)
	@FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh merge $$< $(1)
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_TARGET,$(t))))

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-ci:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_CI_TIME) && \
	echo "fuzz-ci: $$(( $$(date +%s) - start )) s"

fuzz-regress: $(FUZZ_TARGETS:%=fuzz-regress-%)

fuzz-merge: $(FUZZ_TARGETS:%=fuzz-merge-%)

# ---- cross builds and the container image ----
#
#   make CROSS=aarch64-linux-gnu-    build/aarch64-linux-gnu/tomed    (Pi 3/4/5, 64-bit OS)
#   make CROSS=arm-linux-gnueabihf-  build/arm-linux-gnueabihf/tomed  (Pi 2/3/4/5, 32-bit OS)
#   make deps-cross CROSS=...        as root: dpkg --add-architecture and the missing
#                                    cross packages (otherwise prints the commands)
#   make cross-arm64, cross-armhf    deps-cross, then that build
#   make test-arm64, test-armhf      unit and integration tests on that binary under
#                                    qemu-user (tests/arch/qemu-run)
#   make rootfs [CROSS=...]          $(BUILD)/rootfs: the container image's filesystem
#                                    (tests/container/mkrootfs.sh; deploy/Dockerfile runs it)
#   make test-container              that filesystem run as the image runs it (read-only
#                                    root, UID 65532, PID 1), and the image built with
#                                    buildah and run with podman (tests/container/)
# docs/platforms.md has the details, sizes and memory per architecture.

CROSS_TRIPLET  := $(patsubst %-,%,$(CROSS))
CROSS_ARCH_aarch64-linux-gnu   := arm64
CROSS_ARCH_arm-linux-gnueabihf := armhf
CROSS_ARCH_x86_64-linux-gnu    := amd64
CROSS_ARCH     := $(CROSS_ARCH_$(CROSS_TRIPLET))
CROSS_DEB_BUILD = gcc-$(subst _,-,$(CROSS_TRIPLET)) pkgconf:$(CROSS_ARCH) \
                  $(addsuffix :$(CROSS_ARCH),libmicrohttpd-dev zlib1g-dev libbrotli-dev libyaml-dev libssl-dev)
CROSS_DEB_TEST  = libcmocka-dev:$(CROSS_ARCH) qemu-user
CROSS_DEB_PKGS  = $(CROSS_DEB_BUILD)
ROOTFS         ?= $(BUILD)/rootfs

# 32-bit targets (armhf): 64-bit off_t, ino_t, directory offsets and time_t;
# nothing changes on 64-bit ones. Without _FILE_OFFSET_BITS glibc's stat()
# fails with EOVERFLOW on a file over 2 GiB or an inode number over 2^32 (XFS,
# btrfs, overlayfs xino), and readdir() on a 64-bit directory offset (ext4's
# hashes as a 32-bit process under qemu-user sees them): the site loads as 0
# files. Without _TIME_BITS dates after 2038-01-19 (Last-Modified,
# If-Modified-Since) do not exist. Safe with Debian 12's 32-bit-time_t
# libraries: no time_t, timespec, timeval or struct stat crosses the APIs of
# libmicrohttpd, zlib, brotli, libyaml or the EVP digests tomed uses.
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64

ifneq ($(CROSS),)
ifeq ($(CROSS_ARCH),)
$(error CROSS=$(CROSS): unknown target; use aarch64-linux-gnu-, arm-linux-gnueabihf- or x86_64-linux-gnu-)
endif
# The toolchain follows CROSS unless given explicitly.
ifneq ($(filter default file,$(origin CC)),)
CC := $(CROSS)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS)ar
endif
ifeq ($(origin PKG_CONFIG),file)
# Debian's pkgconf:ARCH installs the TRIPLET-pkg-config wrapper (deps-cross does).
PKG_CONFIG := $(if $(shell command -v $(CROSS)pkg-config 2>/dev/null),$(CROSS)pkg-config,PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config)
endif
# Targets and objects were named with BUILD above, before CROSS is looked at
# here. A plain `make CROSS=...` builds in build/TRIPLET through a sub-make;
# other goals must be given BUILD, so native and target objects never mix.
ifeq ($(BUILD),build)
ifeq ($(strip $(MAKECMDGOALS)),)
.DEFAULT_GOAL := cross-all
else ifneq ($(filter-out clean deps-cross cross-all,$(MAKECMDGOALS)),)
$(error CROSS=$(CROSS) needs BUILD=build/$(CROSS_TRIPLET) for '$(MAKECMDGOALS)' (or: make cross-$(CROSS_ARCH), make test-$(CROSS_ARCH)))
endif
endif
endif

.PHONY: deps-cross cross-all cross-arm64 cross-armhf test-arm64 test-armhf test-cross \
        rootfs test-container

cross-all:
	@$(MAKE) --no-print-directory BUILD=build/$(CROSS_TRIPLET) all

# Like deps: installs only what is missing, as root; otherwise prints the commands.
# If `apt-get update` fails (e.g. one architecture's index is out of sync on the
# mirror), it is retried with the native and this target's indexes only.
deps-cross:
	@test -n "$(CROSS_ARCH)" || { echo "deps-cross: set CROSS (aarch64-linux-gnu-, arm-linux-gnueabihf-)"; exit 2; }
	@missing=""; for p in $(CROSS_DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	    echo "deps-cross: missing Debian packages; run:"; \
	    echo "    sudo dpkg --add-architecture $(CROSS_ARCH) && sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	fi; \
	echo "deps-cross: installing$$missing"; \
	dpkg --print-foreign-architectures | grep -qx '$(CROSS_ARCH)' || \
	    [ "$$(dpkg --print-architecture)" = '$(CROSS_ARCH)' ] || dpkg --add-architecture '$(CROSS_ARCH)'; \
	archs="-o APT::Architectures::=$$(dpkg --print-architecture) -o APT::Architectures::=$(CROSS_ARCH)"; \
	apt-get update -qq || { echo "deps-cross: apt-get update failed; retrying with $(CROSS_ARCH) and native indexes only"; \
	    apt-get update -qq $$archs; } || exit 1; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$archs $$missing >/dev/null

cross-arm64 cross-armhf: cross-%:
	$(MAKE) --no-print-directory CROSS=$(ARCH_TRIPLET_$*)- BUILD=build/$(ARCH_TRIPLET_$*) deps-cross
	$(MAKE) --no-print-directory CROSS=$(ARCH_TRIPLET_$*)- BUILD=build/$(ARCH_TRIPLET_$*) all
ARCH_TRIPLET_arm64 := aarch64-linux-gnu
ARCH_TRIPLET_armhf := arm-linux-gnueabihf

# The native test tools (deps), the cross packages plus cmocka and qemu-user
# (deps-cross), then test-cross in build/TRIPLET.
test-arm64 test-armhf: DEB_CMDS = $(DEB_TEST_CMDS)
test-arm64 test-armhf: DEB_PKGS = $(DEB_TEST)
test-arm64 test-armhf: test-%: deps
	$(MAKE) --no-print-directory CROSS=$(ARCH_TRIPLET_$*)- BUILD=build/$(ARCH_TRIPLET_$*) \
	    'CROSS_DEB_PKGS=$$(CROSS_DEB_BUILD) $$(CROSS_DEB_TEST)' deps-cross
	$(MAKE) --no-print-directory CROSS=$(ARCH_TRIPLET_$*)- BUILD=build/$(ARCH_TRIPLET_$*) test-cross

# Unit tests, then the integration suite, with every binary run through qemu-user;
# the harness runs $(BUILD)/tomed-qemu, a two-line wrapper, as its tomed. The few
# tests qemu-user itself makes fail are listed, with the reason, in
# tests/arch/qemu-xfail.txt; everything else must pass as natively. Tests may
# look at TOMED_TEST_EMULATOR to skip what emulation cannot show (e.g. RSS).
test-cross: $(BUILD)/tomed $(UNIT_BIN)
	@test -n "$(CROSS)" || { echo "test-cross: use make test-arm64 or test-armhf"; exit 2; }
	tests/arch/run-unit $(UNIT_BIN)
	@printf '#!/bin/sh\nexec %s %s "$$@"\n' '$(abspath tests/arch/qemu-run)' '$(abspath $(BUILD)/tomed)' \
	    >$(BUILD)/tomed-qemu && chmod +x $(BUILD)/tomed-qemu
	TOMED_BIN=$(abspath $(BUILD)/tomed-qemu) TOMED_TEST_EMULATOR=qemu-user PYTHONPATH=tests/arch \
	    $(PYTHON) -m pytest -q -p qemu_xfail -rxX tests/integration

rootfs: $(BUILD)/tomed tests/container/mkrootfs.sh conf/tomed.yaml
	READELF=$(CROSS)readelf STRIP=$(CROSS)strip tests/container/mkrootfs.sh $(BUILD)/tomed conf/tomed.yaml $(ROOTFS)

# The image's filesystem run read-only as UID 65532 and PID 1 with unshare and
# chroot (run-rootfs.sh), then deploy/Dockerfile's runtime stage and
# deploy/site.Dockerfile built with buildah and run with podman (run-image.sh).
# run-image.sh puts tomed as deploy/Dockerfile builds it on debian:13-slim in the
# image: built in the Debian 13 root of tests/trixie/ with its libraries.
# Each needs root and prints SKIP without it. About 35 s, 10 of them SIGTERM drains.
DEB_CONTAINER := buildah podman runc iproute2 curl brotli
test-container: DEB_PKGS = $(DEB_CONTAINER) $(DEB_TRIXIE)
test-container: deps $(BUILD)/tomed
	tests/container/run-rootfs.sh $(BUILD)/tomed
	tests/container/run-image.sh

# ---- Debian 13 (trixie): libmicrohttpd 1.0.1 ----
# The integration suite again, on tomed built in a debootstrap'd trixie root
# against Debian 13's own packages and run with that root's loader and
# libraries (tests/trixie/). The root is cached in build/trixie/root (about a
# minute to make, from this machine's apt mirror); after that the build and
# the suite are all. Needs root and prints SKIP without it.
DEB_TRIXIE := debootstrap
.PHONY: test-trixie
test-trixie: DEB_PKGS = $(DEB_TRIXIE)
test-trixie: deps $(BROWSER_DEPS) $(DEPLOY_DEPS)
	PYTHON=$(PYTHON) tests/trixie/run.sh

# ---- soak and memcheck ----
# make soak      5 minutes, 256 connections (wrk), SIGHUP reload every 3 s alternating
#                two builds, RSS and fds sampled from /proc; bounds in tests/soak/soak.py,
#                figures in docs/reliability.md
# make soak-ci   the same for 30 s (10 s warm-up)
# make memcheck  valgrind memcheck of a short mixed load with a reload, then SIGTERM
SOAK_DURATION    ?= 300
SOAK_CONNECTIONS ?= 256
DEB_SOAK := wrk valgrind
.PHONY: soak soak-ci memcheck
soak: $(BUILD)/tomed
	$(PYTHON) tests/soak/soak.py --bin $(abspath $(BUILD)/tomed) --duration $(SOAK_DURATION) \
	    --connections $(SOAK_CONNECTIONS) --warmup 60 --out $(BUILD)/soak/soak.json
soak-ci: $(BUILD)/tomed
	$(PYTHON) tests/soak/soak.py --bin $(abspath $(BUILD)/tomed) --duration 30 \
	    --connections $(SOAK_CONNECTIONS) --warmup 10 --out $(BUILD)/soak/soak-ci.json
memcheck: $(BUILD)/tomed
	$(PYTHON) tests/soak/memcheck.py --bin $(abspath $(BUILD)/tomed) \
	    --suppressions tests/soak/valgrind.supp --log $(BUILD)/soak/memcheck.log
