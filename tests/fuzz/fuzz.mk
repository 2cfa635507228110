# SPDX-License-Identifier: GPL-2.0-or-later
# libFuzzer targets, one per parser of untrusted input (systemd's fuzz-*).
# Included by the top Makefile.
#   make fuzz-smoke          each target for a bounded run on a copy of its seeds
#   make fuzz                each target for FUZZ_SECONDS (default 120) seconds
# Corpora under tests/fuzz/corpus/ are only read; runs work on copies in
# build/fuzz/, and crash/leak/timeout files land in build/fuzz/artifacts/.

FUZZ_CC ?= clang
# UBSan findings must stop the run, or libFuzzer would only print them.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer -Ishared -Itests/unit
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_RUNS ?= 200000
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_DIR := build/fuzz

FUZZ_NAMES := config boot-state regf regf-log
FUZZ_TARGETS := $(FUZZ_DIR)/fuzz-config $(FUZZ_DIR)/fuzz-boot-state $(FUZZ_DIR)/fuzz-regf $(FUZZ_DIR)/fuzz-regf-log
FUZZ_NAMES += gpt
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-gpt
FUZZ_NAMES += journal
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-journal
fuzz_src_journal := tests/fuzz/fuzz-journal.c shared/journal.c shared/quarantine.c shared/rules.c \
	shared/config.c shared/log.c shared/time-util.c shared/crc32.c shared/string-util.c \
	tests/unit/fake-volume.c
fuzz_max_len_journal := 8192

fuzz_src_config := tests/fuzz/fuzz-config.c shared/config.c shared/rules.c shared/string-util.c
# boot-state also writes through the fake ESP: parse, bump, write, read back.
fuzz_src_boot-state := tests/fuzz/fuzz-boot-state.c shared/boot-state.c shared/crc32.c \
	shared/string-util.c tests/unit/fake-volume.c
# regf: open, walk, then the Safe Mode edit and a re-open of the result.
fuzz_src_regf := tests/fuzz/fuzz-regf.c shared/regf.c shared/string-util.c
# Inputs a little longer than the largest the parser reads whole.
fuzz_src_regf-log := tests/fuzz/fuzz-regf-log.c shared/regf-log.c shared/regf.c shared/string-util.c
fuzz_max_len_regf-log := 140000
fuzz_max_len_config := 8192
fuzz_max_len_boot-state := 8300
# The largest real BCD stores are a few tens of KiB.
fuzz_max_len_regf := 262144
# gpt: the input is a disk (512- and 4096-byte sectors); the seeds are the
# first 34 sectors of tables sfdisk wrote, room for both headers besides.
fuzz_src_gpt := tests/fuzz/fuzz-gpt.c shared/gpt.c shared/crc32.c shared/string-util.c
fuzz_max_len_gpt := 40960

# bitlocker: the volume header and metadata copies, then the clear-key and
# .BEK unlocks and a few sector reads (shared/bitlocker.c, Debian's mbedTLS).
FUZZ_NAMES += bitlocker
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-bitlocker
fuzz_src_bitlocker := tests/fuzz/fuzz-bitlocker.c shared/bitlocker.c shared/gpt.c shared/crc32.c \
	shared/string-util.c
fuzz_ldlibs_bitlocker := -lmbedcrypto
# A header, a flags byte and one 64 KiB metadata area.
fuzz_max_len_bitlocker := 66049

# smbios: the firmware's structure table (shared/smbios.c) and the report's
# machine id made from it (shared/rescue.c).
FUZZ_NAMES += smbios
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-smbios
fuzz_src_smbios := tests/fuzz/fuzz-smbios.c shared/smbios.c shared/rescue.c shared/gpt.c \
	shared/crc32.c shared/string-util.c shared/bcd-store.c shared/bcd.c shared/regf.c \
	shared/regf-log.c shared/boot-state.c shared/json-out.c shared/journal.c shared/quarantine.c \
	shared/rules.c shared/config.c shared/log.c shared/time-util.c shared/bitlocker-keys.c \
	shared/bitlocker.c shared/run.c shared/menu.c shared/decide.c shared/bitlocker-unlock.c
fuzz_ldlibs_smbios := -lmbedcrypto
fuzz_max_len_smbios := 4096

# bitlocker-keys: key files (CSV, manage-bde text, .TXT, UTF-16), find, and
# the bytes typed into the recovery-password prompt.
FUZZ_NAMES += bitlocker-keys
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-bitlocker-keys
fuzz_src_bitlocker-keys := tests/fuzz/fuzz-bitlocker-keys.c shared/bitlocker-keys.c \
	shared/bitlocker.c shared/gpt.c shared/crc32.c shared/string-util.c
fuzz_ldlibs_bitlocker-keys := -lmbedcrypto
# A few lines past the 4 KiB line buffer.
fuzz_max_len_bitlocker-keys := 16384

# report: recovery reports as `unloop report summarize` reads them (the strict
# JSON reader, a report to a row, the table/CSV/JSON of it); CLI sources.
FUZZ_NAMES += report
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-report
fuzz_src_report := tests/fuzz/fuzz-report.c recovery/report-cmd.c recovery/json-read.c \
	recovery/json.c shared/json-out.c shared/string-util.c
# Reports are a few KiB; the CLI refuses more than 1 MiB before parsing.
fuzz_max_len_report := 65536
$(FUZZ_DIR)/fuzz-report: recovery/cli.h recovery/json.h recovery/json-read.h

FUZZ_HDR := $(wildcard shared/*.h) tests/unit/fake-volume.h

define fuzz_rule
$(FUZZ_DIR)/fuzz-$(1): $(fuzz_src_$(1)) $(FUZZ_HDR) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ $(fuzz_src_$(1)) $(fuzz_ldlibs_$(1))
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(f))))

# Seed generator for the state corpus (a host program, no fuzzer runtime).
$(FUZZ_DIR)/gen-boot-state-seeds: tests/fuzz/gen-boot-state-seeds.c shared/boot-state.c \
		shared/crc32.c shared/string-util.c $(FUZZ_HDR) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -Ishared -o $@ $(filter %.c,$^)

# $(1): name, $(2): corpus directory in build/, $(3): libFuzzer options,
# $(4): the target, for the closing "<target>: ok <name>" line that
# tests/run-check.sh counts (make stops before it if the fuzzer fails).
define fuzz_run
	mkdir -p $(2) $(FUZZ_DIR)/artifacts/$(1)
	cp -n tests/fuzz/corpus/$(1)/* $(2)/ 2>/dev/null || true
	$(FUZZ_DIR)/fuzz-$(1) -max_len=$(fuzz_max_len_$(1)) \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ $(3) $(2)
	@echo "$(strip $(4)): ok $(1)"

endef

# A fresh copy of the seeds each time, so the smoke run is repeatable.
fuzz-smoke: $(FUZZ_TARGETS) $(FUZZ_DIR)/gen-boot-state-seeds
	rm -rf $(FUZZ_DIR)/smoke
	mkdir -p $(FUZZ_DIR)/smoke/boot-state
	$(FUZZ_DIR)/gen-boot-state-seeds $(FUZZ_DIR)/smoke/boot-state
	mkdir -p $(FUZZ_DIR)/smoke/regf
	cp -n ../shared/testdata/bcd/*.BCD $(FUZZ_DIR)/smoke/regf/ 2>/dev/null || true
	$(foreach f,$(FUZZ_NAMES),$(call fuzz_run,$(f),$(FUZZ_DIR)/smoke/$(f),\
		-runs=$(FUZZ_SMOKE_RUNS) -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1,\
		fuzz-smoke))

# A corpus that grows across runs in build/fuzz/corpus/.
fuzz: $(FUZZ_TARGETS)
	$(foreach f,$(FUZZ_NAMES),$(call fuzz_run,$(f),$(FUZZ_DIR)/corpus/$(f),\
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1,fuzz))

.PHONY: fuzz fuzz-smoke

# policy-sig: unloop.conf.sig as a policy-enforcing build reads it (signed
# policy, issue #7), over the openssl-made vectors of tests/unit/policy-vectors.h.
FUZZ_NAMES += policy-sig
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-policy-sig
fuzz_src_policy-sig := tests/fuzz/fuzz-policy-sig.c shared/policy-sig.c shared/string-util.c \
	tests/unit/fake-volume.c
fuzz_ldlibs_policy-sig := -lmbedcrypto
# The signature file is refused past UL_POLICY_SIG_MAX (256) bytes; room for a config.
fuzz_max_len_policy-sig := 1024
$(eval $(call fuzz_rule,policy-sig))
$(FUZZ_DIR)/fuzz-policy-sig: tests/unit/policy-vectors.h
fuzz-smoke fuzz: $(FUZZ_DIR)/fuzz-policy-sig

# loadopt: Boot#### load options, device paths and BootOrder (shared/loadopt.c,
# the bootnext hand-off of issue #7).  Seeds: entries as efibootmgr, bcdedit
# and the UEFI shell's bcfg write them (tests/fuzz/corpus/loadopt/).
FUZZ_NAMES += loadopt
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-loadopt
fuzz_src_loadopt := tests/fuzz/fuzz-loadopt.c shared/loadopt.c shared/log.c shared/time-util.c \
	shared/string-util.c
fuzz_max_len_loadopt := 4096
$(eval $(call fuzz_rule,loadopt))
fuzz-smoke fuzz: $(FUZZ_DIR)/fuzz-loadopt
