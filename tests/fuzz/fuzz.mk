# fuzz.mk: libFuzzer targets (clang), one per guest-facing surface and host-facing parser.
#
#   make fuzz              each target for FUZZ_TIME seconds (default 60), one after the other
#   make fuzz-ci           each target for 10 s, two at a time (part of `make test`)
#   make fuzz-run-<name>   one target; make $(BUILD)/fuzz/fuzz_<name> only builds it
#
# A target is tests/fuzz/fuzz_<name>.c plus the sources in FUZZ_SRCS_<name> (and link flags in
# FUZZ_LDFLAGS_<name>); objects are built once with the fuzz flags under $(BUILD)/fuzz/obj/.
# Each run (tests/fuzz/run.sh) starts from the committed seeds in tests/fuzz/corpus/<name>/ and
# grows its own corpus in $(BUILD)/fuzz/corpus_<name>/; a crash, leak, timeout or broken invariant
# leaves $(BUILD)/fuzz/<name>-crash-* (-leak-, -timeout-) and fails, after every target ran.
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_CI_TIME ?= 10
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
		-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer
FUZZ_TARGETS := virtq net virtio_pci bzimage elf net_opts

# Shared pieces.
FUZZ_MEM     := tests/fuzz/fuzz_mem.c vmm/guest_mem.c
FUZZ_WRAP_MEM := -Wl,--wrap=guest_ptr
FUZZ_NETDEV  := $(FUZZ_MEM) tests/fuzz/fuzz_work.c tests/fuzz/fuzz_ring.c tests/fuzz/fuzz_net_dev.c \
		tests/unit/fake_net.c tests/unit/fake_ring.c tests/fuzz/fuzz_check_shim.c \
		devices/virtio/virtq.c \
		devices/virtio/virtio_net.c devices/net/net_loop.c devices/net/vhost_net.c \
		devices/net/net_backend.c vmm/loop.c vmm/iov.c vmm/log.c vmm/json.c
FUZZ_WRAP_NETDEV := $(FUZZ_WRAP_MEM) -Wl,--wrap=virtq_init,--wrap=virtq_reset,--wrap=virtq_pop \
		-Wl,--wrap=virtq_unpop,--wrap=virtq_push,--wrap=pthread_create,--wrap=pthread_join \
		-lpthread
FUZZ_BOOT    := $(FUZZ_MEM) tests/fuzz/fuzz_boot.c $(addprefix firmware/,boot.c boot_cpu.c boot_params.c \
		bzimage.c e820.c elf.c pvh.c) vmm/log.c

FUZZ_SRCS_virtq         := $(FUZZ_MEM) devices/virtio/virtq.c vmm/iov.c
FUZZ_LDFLAGS_virtq      := $(FUZZ_WRAP_MEM)
FUZZ_SRCS_net           := $(FUZZ_NETDEV)
FUZZ_LDFLAGS_net        := $(FUZZ_WRAP_NETDEV)
FUZZ_SRCS_virtio_pci    := $(FUZZ_NETDEV) tests/unit/fake_kvm.c devices/virtio/virtio_pci.c \
			   devices/msix.c devices/pci.c vmm/bus.c vmm/irq.c vmm/ioeventfd.c
FUZZ_LDFLAGS_virtio_pci := $(FUZZ_WRAP_NETDEV)
FUZZ_SRCS_bzimage       := $(FUZZ_BOOT)
FUZZ_LDFLAGS_bzimage    := $(FUZZ_WRAP_MEM)
FUZZ_SRCS_elf           := $(FUZZ_BOOT)
FUZZ_LDFLAGS_elf        := $(FUZZ_WRAP_MEM)
FUZZ_SRCS_net_opts      := vmm/net_opts.c vmm/cli.c vmm/log.c
FUZZ_LDFLAGS_net_opts   :=

$(foreach t,$(FUZZ_TARGETS),$(eval FUZZ_OBJS_$(t) := \
	$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,tests/fuzz/fuzz_$(t).c $(sort $(FUZZ_SRCS_$(t))))))

.PRECIOUS: $(FUZZ_DIR)/obj/%.o
.PHONY: fuzz fuzz-ci $(FUZZ_TARGETS:%=fuzz-run-%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(shell pkg-config --cflags check 2>/dev/null) -MMD -MP -c -o $@ $<

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: $$(FUZZ_OBJS_$$*)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDFLAGS_$*)

$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@./tests/fuzz/run.sh $* $(FUZZ_TIME) $(FUZZ_DIR)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@$(MAKE) --no-print-directory -k -j1 $(FUZZ_TARGETS:%=fuzz-run-%)

# Two at a time on the two cores CI has: 6 targets x 20 s = one minute of wall time.
fuzz-ci: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@$(MAKE) --no-print-directory -k -j2 FUZZ_TIME=$(FUZZ_CI_TIME) $(FUZZ_TARGETS:%=fuzz-run-%)
