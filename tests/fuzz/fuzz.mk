# fuzz.mk: libFuzzer targets (clang). `make fuzz` runs each for FUZZ_TIME seconds;
# `make build/fuzz/fuzz_virtq` only builds. Corpora live in build/fuzz/corpus_<name>/.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
	      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz
$(BUILD)/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c devices/virtio/virtq.c vmm/guest_mem.c vmm/iov.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^

fuzz: $(BUILD)/fuzz/fuzz_virtq
	@mkdir -p $(BUILD)/fuzz/corpus_virtq
	$(BUILD)/fuzz/fuzz_virtq -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus_virtq
