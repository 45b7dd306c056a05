# tomed — one non-recursive Makefile.
#
#   make            build build/tomed
#   make run        install missing Debian packages, build, serve the example site
#   make test       install missing Debian packages, build, run every test
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
DEB_TEST    := libcmocka-dev curl python3-pytest brotli gzip prometheus

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

LIB_SRC     := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ     := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit integration asan test-asan clean
.DELETE_ON_ERROR:

all: $(BUILD)/tomed

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libtomed.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/tomed: $(BUILD)/obj/main.o $(BUILD)/libtomed.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtomed.a | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
	    $(BUILD)/libtomed.a $(LDFLAGS) $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

-include $(wildcard $(BUILD)/obj/*.d)

# Missing Debian packages are installed when we are root (CI, containers, a
# fresh VM); otherwise the exact command is printed and make stops.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
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

test: DEB_PKGS = $(DEB_BUILD) $(DEB_TEST)
test: deps
	$(MAKE) --no-print-directory all unit integration

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

integration: $(BUILD)/tomed
	TOMED_BIN=$(abspath $(BUILD)/tomed) $(PYTHON) -m pytest -q tests/integration

asan:
	$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

test-asan: DEB_PKGS = $(DEB_BUILD) $(DEB_TEST)
test-asan: deps
	$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all unit integration

clean:
	rm -rf build
