# minivmm: `make` builds, `make test` runs everything, `make run` boots the guest.
# Sources are picked up by directory, so a new file needs no edit here.
CC      ?= cc
BUILD   ?= build
PKGS    := slirp
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfdt -lpthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS  := $(filter-out vmm/main.c,$(wildcard vmm/*.c firmware/*.c devices/*.c devices/virtio/*.c devices/net/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_HELP := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

OBJS      := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: all deps run test unit e2e e2e-selftest bench bench-datapath clean guest testhost
all: $(BUILD)/minivmm

$(BUILD)/minivmm: $(BUILD)/vmm/main.o $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/minivmm-san: $(BUILD)/san/vmm/main.o $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -MMD -MP -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(UNIT_HELP) $(SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(shell pkg-config --cflags check) -o $@ $< $(UNIT_HELP) $(UNIT_EXTRA) \
	    $(SAN_OBJS) $(shell pkg-config --libs check) $(LDLIBS)

# The native datapath benchmark: the real device objects driven by an in-process virtio driver
# over a tap (tests/bench/datapath/, no KVM). Its driver, frames and tap peer are unit-tested too.
DP_SRCS := $(wildcard tests/bench/datapath/*.c)
DP_LIB  := $(filter-out tests/bench/datapath/bench.c,$(DP_SRCS))
DP_HDRS := $(wildcard tests/bench/datapath/*.h)

$(BUILD)/bench-datapath: $(DP_SRCS) $(DP_HDRS) $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(DP_SRCS) $(OBJS) $(LDLIBS)

$(BUILD)/unit/test_guest_driver: UNIT_EXTRA := $(DP_LIB)
$(BUILD)/unit/test_guest_driver: $(DP_LIB) $(DP_HDRS)

# Installs what is missing (Debian packages listed in deps.txt).
deps:
	@./tools/deps.sh

unit: $(UNIT_BINS)
	@./tests/unit/run.sh $(UNIT_BINS)

guest:
	@./guest/build.sh

testhost:
	@./tests/e2e/testhost.sh build

e2e: all $(BUILD)/minivmm-san
	@./tests/e2e/run.sh

# Proves the e2e harness (test host, guest) with QEMU in place of minivmm.
e2e-selftest:
	@./tests/e2e/run.sh --selftest

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory e2e

run: deps
	@$(MAKE) --no-print-directory all
	@./guest/build.sh
	@./tools/run.sh

bench: deps all
	@./tests/bench/run.sh

# Needs root; knobs (DP_SECS, DP_RUNS, ...) in tests/bench/datapath/bench.c and HACKING.md.
bench-datapath: $(BUILD)/bench-datapath
	@DP_OUT=$${DP_OUT:-$(BUILD)/bench} $(BUILD)/bench-datapath

clean:
	rm -rf $(BUILD)

include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
