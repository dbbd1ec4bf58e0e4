# dns-raft build.
#
# Each layer is a static library built from every .c file in its folder, so a
# new module needs no Makefile edit:
#
#   common/    -> build/libcommon.a   (logging, event loop, hand-off list,
#                                      CRC32C, storage I/O: plumbing)
#   zone/      -> build/libzone.a     (names, RR types, zone files, zone database)
#   dns/       -> build/libdns.a      (wire format, answers, UDP/TCP server)
#   raft/core/ -> build/libraftcore.a (the pure Raft core: libc only)
#   raft/      -> build/libraft.a     (node runtime: disk, network, threads)
#   kv/        -> build/libkv.a       (replicated state machine, admin protocol)
#   metrics/   -> build/libmetrics.a  (/metrics, /health, /ready over libmicrohttpd)
#
# Unit tests are tests/unit/test_<layer>_*.c; each links the libraries its
# layer depends on (see LIBS_FOR_*), except CORE_TESTS, which link
# libraftcore.a alone to show the core needs nothing else. The Raft
# simulation is tests/sim/*.c.
# `make test` runs everything, then the same unit and simulation tests again
# under ASan+UBSan (BUILD=build-asan).

CC      ?= cc
BUILD   ?= build
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SAN) -pthread -I. -MMD -MP
LDFLAGS += $(SAN) -pthread
LDLIBS  := -lyaml -lurcu-memb -lurcu-common -lcrypto -lsystemd -lmicrohttpd
# `make install`: a daemon goes to sbin, as Debian puts nsd, knotd and named
# in /usr/sbin (FHS 4.10: programs for the system administrator); the config
# to /etc/dns-raft, as Debian's /etc/nsd and /etc/knot, whatever the PREFIX.
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# The version -version prints: the VERSION file, and the git commit when
# built from a clone (build/gen/version.h, rewritten only when it changes).
VERSION := $(shell cat VERSION 2>/dev/null || echo unknown)$(shell git describe --always --dirty --abbrev=10 2>/dev/null | sed 's/^/+g/')
SEEDS   ?= 100000
STEPS   ?= 10000

LAYERS := common zone dns raftcore raft kv metrics
dir_raftcore := raft/core
lib_srcs = $(wildcard $(or $(dir_$(1)),$(1))/*.c)
lib_objs = $(patsubst %.c,$(BUILD)/%.o,$(call lib_srcs,$(1)))

LIB_common := $(BUILD)/libcommon.a
LIB_zone   := $(BUILD)/libzone.a
LIB_dns    := $(BUILD)/libdns.a
LIB_raftcore := $(BUILD)/libraftcore.a
LIB_raft   := $(BUILD)/libraft.a
LIB_kv     := $(BUILD)/libkv.a
LIB_metrics := $(BUILD)/libmetrics.a

# Link order: dependants first (kv -> raft -> raftcore, dns -> zone -> common).
LIBS_FOR_common := $(LIB_common)
LIBS_FOR_zone   := $(LIB_zone) $(LIB_common)
LIBS_FOR_dns    := $(LIB_dns) $(LIB_zone) $(LIB_common)
LIBS_FOR_raftcore := $(LIB_raftcore)
LIBS_FOR_raft   := $(LIB_raft) $(LIB_raftcore) $(LIB_common)
LIBS_FOR_kv     := $(LIB_kv) $(LIB_raft) $(LIB_raftcore) $(LIB_dns) $(LIB_zone) $(LIB_common)
LIBS_FOR_metrics := $(LIB_metrics) $(LIB_common)
LIBS_ALL        := $(LIB_metrics) $(LIBS_FOR_kv)

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
# Tests of the pure core: linked with libraftcore.a and nothing else.
CORE_TESTS := test_raft_paper test_raft_thesis test_raft_hostile test_raft_figure2 test_raft_trace
# The libraries test_<layer>_<what> links ($(1) = <layer>_<what>).
libs_for = $(if $(filter test_$(1),$(CORE_TESTS)),$(LIBS_FOR_raftcore),$(LIBS_FOR_$(firstword $(subst _, ,$(1)))))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
SIM_SRCS   := $(wildcard tests/sim/*.c)
SIM_BIN    := $(BUILD)/tests/raft-sim
BIN        := bin/dns-raft

.PHONY: FORCE all powercut deps test unit sim sim-test sim-scripts sim-scripts-rewrite asan tsan integration clean install fuzz fuzz-build fuzz-regress faults demo
all: $(BIN)

# Each archive is made afresh: `ar rcs` into an old one would keep the
# members of files since moved or deleted, and the linker would take them.
define layer_rules
$(LIB_$(1)): $(call lib_objs,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rules,$(l))))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define DNSRAFT_VERSION "$(VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/main.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/main.o: $(BUILD)/gen/version.h
FORCE:

$(BIN): $(BUILD)/main.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# tests/unit/test_<layer>_<what>.c links the libraries of <layer>.
.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call libs_for,$*) $(LDFLAGS) $(if $(filter test_$*,$(CORE_TESTS)),,$(LDLIBS)) -lcmocka

$(SIM_BIN): $(SIM_SRCS) $(LIBS_FOR_raft)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(SIM_SRCS) $(LIBS_FOR_raft) $(LDFLAGS) $(LDLIBS)

# The power-cut model (tests/faults/powercut_shim.c, LD_PRELOAD) and the two
# daemons with a planted missing sync that tests/integration/power_cut.py
# must catch: the planted object comes first, so the archive's own copy of
# that file is never linked. Test-only; `all` builds none of them.
POWERCUT := $(BUILD)/powercut_shim.so $(BUILD)/tests/dns-raft-skip-wal-sync $(BUILD)/tests/dns-raft-skip-dir-sync
powercut: $(POWERCUT)
$(BUILD)/powercut_shim.so: tests/faults/powercut_shim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl -pthread
$(BUILD)/planted/wal-skip-sync.o: raft/wal.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DDNSRAFT_TEST_SKIP_WAL_SYNC -c $< -o $@
$(BUILD)/planted/storage_io-skip-dir-sync.o: common/storage_io.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DDNSRAFT_TEST_SKIP_DIR_SYNC -c $< -o $@
$(BUILD)/tests/dns-raft-skip-wal-sync: $(BUILD)/main.o $(BUILD)/planted/wal-skip-sync.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/dns-raft-skip-dir-sync: $(BUILD)/main.o $(BUILD)/planted/storage_io-skip-dir-sync.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps.sh

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

# `make sim SEEDS=N STEPS=M` runs a longer simulation than `make test` does.
sim: $(if $(SIM_SRCS),$(SIM_BIN))
	@if [ -n "$(SIM_SRCS)" ]; then $(SIM_BIN) --seeds $(SEEDS) --steps $(STEPS); fi

sim-test: $(if $(SIM_SRCS),$(SIM_BIN))
	@if [ -n "$(SIM_SRCS)" ]; then $(SIM_BIN) --test; fi
	@$(MAKE) --no-print-directory sim-scripts

# Golden scripted scenarios (tests/sim/scripts/, raft-sim --script): each
# transcript must match its file, and the Figure 8 script must catch a
# broken core. sim-scripts-rewrite stores new transcripts (review the diff).
sim-scripts: $(SIM_BIN)
	@scripts/run-sim-scripts.sh $(SIM_BIN)
sim-scripts-rewrite: $(SIM_BIN)
	@scripts/run-sim-scripts.sh $(SIM_BIN) --rewrite

# Set up, build, and run the README's 3-node cluster on zones/ (Ctrl-C stops it).
demo: deps all
	@scripts/demo.sh

integration: $(BIN) $(POWERCUT)
	@scripts/run-integration.sh

# Unit and simulation tests again with AddressSanitizer + UBSan; then the
# daemon itself built the same way runs a 3-node cluster and stops cleanly
# with no leak (LeakSanitizer) or error (tests/sanitizers/).
ASAN_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="$(ASAN_SAN)" unit sim-test
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="$(ASAN_SAN)" BIN=build-asan/dns-raft build-asan/dns-raft
	@DNSRAFT_BIN=$(CURDIR)/build-asan/dns-raft scripts/run-integration.sh --label sanitizers tests/sanitizers/*.py

# The tests that run several threads, again under ThreadSanitizer.
TSAN_TESTS := test_raft_node test_raft_transport test_common_handoff test_common_loop test_dns_server test_dns_server_update test_dns_rrl test_zone_db test_kv_statemachine test_kv_adminserver test_dns_notify
tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g" SAN="-fsanitize=thread" \
	  $(patsubst %,build-tsan/tests/%,$(filter $(TSAN_TESTS),$(notdir $(UNIT_BINS))))
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  scripts/run-unit.sh $(patsubst %,build-tsan/tests/%,$(filter $(TSAN_TESTS),$(notdir $(UNIT_BINS))))

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) sim-test
	$(MAKE) asan
	$(MAKE) tsan
	$(MAKE) fuzz-regress
	FUZZ_RUNS=30000 $(MAKE) fuzz
	$(MAKE) integration

# libFuzzer targets: tests/fuzz/fuzz_<layer>_<what>.c, built with clang into
# build-fuzz/ against libraries compiled with the same sanitizers. Each runs
# FUZZ_SECONDS on a scratch copy of its checked-in corpus tests/fuzz/corpus/<name>/
# (or exactly FUZZ_RUNS inputs from a fixed seed, as `make test` does).
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g" SAN="$(FUZZ_SAN)" \
	  $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(LIBS_FOR_$$(firstword $$(subst _, ,$$*)))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBS_FOR_$(firstword $(subst _, ,$*))) $(LDFLAGS) -fsanitize=fuzzer $(LDLIBS)
fuzz: fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))
# Every crash input ever found (tests/fuzz/regressions/<target>/) and the seeds, once each.
fuzz-regress: fuzz-build
	@scripts/run-fuzz-regressions.sh $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))

# Long nemesis runs (tests/faults/, needs root): `make faults SEEDS=N DURATION=S`
# runs N seeded fault schedules of S seconds each (defaults 20 and 25).
faults: all powercut
	@scripts/run-faults.sh $(if $(filter command line,$(origin SEEDS)),$(SEEDS),20) $(or $(DURATION),25)

# Installs the daemon, its man page, a systemd unit and sysusers.d file, and
# the example config and zone (never over ones already there). DESTDIR
# stages it (tests/integration/install.sh). Then, as root: systemd-sysusers;
# systemctl daemon-reload; edit /etc/dns-raft/dns-raft.yaml;
# systemctl enable --now dns-raft (docs/operations.md, "Install").
install: $(BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/dns-raft/zones
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/dns-raft
	install -m 0644 docs/dns-raft.8 $(DESTDIR)$(MANDIR)/man8/dns-raft.8
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/dns-raft.service \
	  > $(DESTDIR)$(UNITDIR)/dns-raft.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/dns-raft.service
	sed -e 's|/dns-raft/dns-raft.yaml|/dns-raft/%i.yaml|g' -e 's|^StateDirectory=dns-raft$$|StateDirectory=dns-raft/%i|' \
	  -e 's|^WorkingDirectory=/var/lib/dns-raft$$|WorkingDirectory=/var/lib/dns-raft/%i|' \
	  -e 's|^Description=.*|& (instance %i)|' -e 's|^# dns-raft.service — one dns-raft node|# dns-raft@.service — node %i, config /etc/dns-raft/%i.yaml|' \
	  $(DESTDIR)$(UNITDIR)/dns-raft.service > $(DESTDIR)$(UNITDIR)/dns-raft@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/dns-raft@.service
	install -m 0644 dist/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/dns-raft.conf
	@for f in dns-raft.yaml zones/example.com.zone; do \
	  if [ -e $(DESTDIR)$(SYSCONFDIR)/dns-raft/$$f ]; then \
	    echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/dns-raft/$$f (the new one is not installed)"; \
	  else \
	    install -m 0644 dist/$$f $(DESTDIR)$(SYSCONFDIR)/dns-raft/$$f; \
	  fi; \
	done

clean:
	rm -rf build build-asan build-tsan build-fuzz bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
