# minivmm: `make` builds, `make test` runs everything, `make run` boots the guest.
# Sources are picked up by directory, so a new file needs no edit here.
CC      ?= cc
BUILD   ?= build
PKGS    := slirp libseccomp
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfdt -lpthread
# Hardening for every build (release, -san, unit): a guest-reachable overflow should hit a canary,
# a checked libc call or a read-only GOT, not a writable function pointer. FORTIFY needs -O1+.
HARDEN  := -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fcf-protection -fPIE
CFLAGS  += $(HARDEN)
LDFLAGS += -pie -Wl,-z,relro,-z,now
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	   -DMINIVMM_TEST_HOOKS

LIB_SRCS  := $(filter-out vmm/main.c,$(wildcard vmm/*.c firmware/*.c devices/*.c devices/virtio/*.c devices/net/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_HELP := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

OBJS      := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all install check-docs check-harness deps need-root run test unit e2e e2e-prepare e2e-selftest bench bench-datapath clean guest testhost
all: $(BUILD)/minivmm

$(BUILD)/minivmm: $(BUILD)/vmm/main.o $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/minivmm-san: $(BUILD)/san/vmm/main.o $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(UNIT_HELP) $(SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) $(shell pkg-config --cflags check) -o $@ $< $(UNIT_HELP) $(UNIT_EXTRA) \
	    $(SAN_OBJS) $(shell pkg-config --libs check) $(LDLIBS)

# The native datapath benchmark: the real device objects driven by an in-process virtio driver
# over a tap (tests/bench/datapath/, no KVM). Its driver, frames and tap peer are unit-tested too.
DP_SRCS := $(wildcard tests/bench/datapath/*.c)
DP_LIB  := $(filter-out tests/bench/datapath/bench.c,$(DP_SRCS))
DP_HDRS := $(wildcard tests/bench/datapath/*.h)

$(BUILD)/bench-datapath: $(DP_SRCS) $(DP_HDRS) $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(DP_SRCS) $(OBJS) $(LDLIBS)

$(BUILD)/unit/test_guest_driver: UNIT_EXTRA := $(DP_LIB)
$(BUILD)/unit/test_guest_driver: $(DP_LIB) $(DP_HDRS)

# make run and make test create taps, namespaces and device nodes (mknod in the initramfs).
need-root:
	@[ "$$(id -u)" = 0 ] || { echo "make: run and test need root (apt-get, mknod, taps, namespaces); try sudo make ..." >&2; exit 1; }

# make install PREFIX=/usr DESTDIR=/tmp/pkg: bin/minivmm and share/man/man1/minivmm.1.
install: $(BUILD)/minivmm
	install -D -m 755 $(BUILD)/minivmm $(DESTDIR)$(PREFIX)/bin/minivmm
	install -D -m 644 doc/minivmm.1 $(DESTDIR)$(PREFIX)/share/man/man1/minivmm.1

# The documents against the code: --help vs man page vs README, make install, README's commands.
check-docs: $(BUILD)/minivmm
	@./tests/docs/check.sh

# The e2e harness's own judge: emulfault.sh against written traces (what a retry may take).
check-harness:
	@./tests/e2e/emulfault-test.sh

# Installs what is missing (Debian packages listed in deps.txt).
deps:
	@./tools/deps.sh

unit: $(UNIT_BINS)
	@./tests/unit/run.sh $(UNIT_BINS)

# make guest KERNEL=/boot/vmlinuz-X MODULES=/lib/modules/X: the test initramfs around your kernel
# (build/own-guest/); without them, the test guest (build/guest/).
guest:
	@./guest/build.sh $(if $(KERNEL),--kernel $(KERNEL)) $(if $(MODULES),--modules $(MODULES))

testhost:
	@./tests/e2e/testhost.sh build

e2e: all $(BUILD)/minivmm-san
	@E2E_PREPARED=$(E2E_PREPARED) ./tests/e2e/run.sh

# Proves the e2e harness (test host, guest) with QEMU in place of minivmm.
e2e-selftest:
	@./tests/e2e/run.sh --selftest

# What the e2e suite needs is built first, on every core (the test guest and test host are
# unpacked while the compiler runs); then the suite runs with the unit tests and fuzzers built
# and run beside it (tools/test-stages.sh); each stage says how long it took (README quotes the
# total).
NPROC   := $(shell nproc 2>/dev/null || echo 2)
test: need-root deps
	@s=$$(date +%s); $(MAKE) --no-print-directory -j$(NPROC) all $(BUILD)/minivmm-san e2e-prepare && \
		echo "make test: build: $$(($$(date +%s) - s)) s"
	@MAKE="$(MAKE)" BUILD=$(BUILD) ./tools/test-stages.sh

# What the e2e guests need besides minivmm: the test guest, the test host where this
# machine's /dev/kvm cannot run stock kernels (tools/hostrun.sh), and 15-own-kernel's kernel.
# `make test` builds them alongside the compiler and tells run.sh so (E2E_PREPARED=1).
e2e-prepare:
	@bash -c '. tools/hostrun.sh && hostrun_prepare "$$(hostrun_mode "$${E2E_MODE:-}")"'
	@./tests/e2e/own-kernel.sh

# make run ARGS="--cpus 2 --net tap,ifname=tap0": any minivmm option, --kernel/--initrd included.
run: need-root deps
	@$(MAKE) --no-print-directory all
	@./tools/run.sh $(ARGS)

bench: deps all
	@./tests/bench/run.sh

# Needs root; knobs (DP_SECS, DP_RUNS, ...) in tests/bench/datapath/bench.c and HACKING.md.
# DP_MODE=testhost runs it inside the test host (vhost-net there), after the driver's vhost cases.
bench-datapath: $(BUILD)/bench-datapath $(if $(filter testhost,$(DP_MODE)),$(BUILD)/unit/test_guest_driver)
	@DP_OUT=$${DP_OUT:-$(BUILD)/bench} BUILD=$(BUILD) ./tests/bench/datapath/run.sh

clean:
	rm -rf $(BUILD)

include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
