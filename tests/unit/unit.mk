# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests for the freestanding core (shared/), one cmocka executable per
# module, built with ASan/UBSan.  Included by the top Makefile; run with
# `make unit`.  Each test declares the shared sources it needs, so a test
# that links proves its module's dependencies (shim include/test.mk).
#
# Objects go to build/tests/obj/ so they never mix with the -O2 host build
# (build/host/) or the EFI build (build/efi/).

UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-omit-frame-pointer -Ishared -Itests/unit
UNIT_LDLIBS := -lcmocka
UNIT_OBJ_DIR := build/tests/obj
UNIT_BIN_DIR := build/tests/unit

UNIT_NAMES := fake-volume string-util time-util crc32 boot-state config decide menu log run regf regf-log
UNIT_NAMES += bcd-store safe-mode
UNIT_NAMES += gpt
UNIT_NAMES += rules
UNIT_NAMES += quarantine preboot-quarantine
UNIT_NAMES += bitlocker
UNIT_NAMES += smbios
UNIT_NAMES += bitlocker-keys
UNIT_TESTS := $(addprefix $(UNIT_BIN_DIR)/test-,$(UNIT_NAMES))

# Shared sources per test (besides tests/unit/test-NAME.c and fake-volume.c).
unit_shared_fake-volume :=
unit_shared_string-util := string-util.c
unit_shared_time-util   := time-util.c string-util.c
unit_shared_crc32       := crc32.c
unit_shared_boot-state  := boot-state.c crc32.c string-util.c
unit_shared_config      := config.c rules.c string-util.c
unit_shared_decide      := decide.c boot-state.c crc32.c config.c rules.c string-util.c
unit_shared_menu        := menu.c decide.c boot-state.c crc32.c config.c rules.c time-util.c string-util.c
unit_shared_log         := log.c time-util.c string-util.c
unit_shared_run         := run.c menu.c decide.c boot-state.c crc32.c config.c rules.c log.c \
	time-util.c string-util.c bcd.c bcd-store.c regf.c regf-log.c quarantine.c journal.c
unit_shared_regf-log := regf-log.c regf.c string-util.c
unit_shared_regf        := regf.c string-util.c
unit_shared_gpt         := gpt.c crc32.c string-util.c
unit_shared_preboot-quarantine := run.c menu.c decide.c boot-state.c crc32.c config.c rules.c \
	log.c time-util.c string-util.c bcd.c bcd-store.c regf.c regf-log.c quarantine.c journal.c
unit_shared_quarantine  := quarantine.c journal.c rules.c config.c log.c time-util.c crc32.c \
	string-util.c
unit_shared_bcd-store   := bcd-store.c bcd.c regf.c regf-log.c log.c time-util.c string-util.c
unit_shared_safe-mode   := run.c menu.c decide.c boot-state.c crc32.c config.c rules.c log.c \
	time-util.c string-util.c bcd.c bcd-store.c regf.c regf-log.c quarantine.c journal.c
unit_shared_rules       := rules.c config.c string-util.c
unit_shared_bitlocker   := bitlocker.c bitlocker-unlock.c bitlocker-keys.c log.c time-util.c gpt.c \
	crc32.c string-util.c
# smbios: the machine id comes from rescue.c, which reaches most of the core.
unit_shared_smbios      := smbios.c rescue.c gpt.c crc32.c string-util.c bcd-store.c bcd.c regf.c \
	regf-log.c boot-state.c json-out.c journal.c quarantine.c rules.c config.c log.c time-util.c \
	bitlocker-keys.c bitlocker.c run.c menu.c decide.c bitlocker-unlock.c
unit_ldlibs_smbios      := -lmbedcrypto
# Libraries a test needs besides cmocka (BitLocker: Debian's libmbedtls).
unit_ldlibs_bitlocker   := -lmbedcrypto
unit_shared_bitlocker-keys := bitlocker-keys.c bitlocker.c gpt.c crc32.c string-util.c
unit_ldlibs_bitlocker-keys := -lmbedcrypto

unit_objs = $(UNIT_OBJ_DIR)/tests/unit/test-$(1).o $(UNIT_OBJ_DIR)/tests/unit/fake-volume.o \
	$(addprefix $(UNIT_OBJ_DIR)/shared/,$(unit_shared_$(1):.c=.o))

UNIT_HDR := $(wildcard shared/*.h) tests/unit/fake-volume.h

# The top Makefile's package check, when there is one.
$(UNIT_OBJ_DIR)/%.o: %.c $(UNIT_HDR) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -c $< -o $@

define unit_test_rule
$(UNIT_BIN_DIR)/test-$(1): $(call unit_objs,$(1))
	@mkdir -p $$(@D)
	$$(CC) $(UNIT_CFLAGS) -o $$@ $$^ $(UNIT_LDLIBS) $(unit_ldlibs_$(1))
endef
$(foreach t,$(UNIT_NAMES),$(eval $(call unit_test_rule,$(t))))

# Run every test even when one fails, then fail if any did.  The sanitizer
# options make a leak or undefined behaviour a failure, not a remark.
unit: $(UNIT_TESTS)
	@failed=""; \
	for t in $(UNIT_TESTS); do \
		echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$$t || failed="$$failed $${t##*/}"; \
	done; \
	if [ -n "$$failed" ]; then echo "unit: FAILED:$$failed"; exit 1; fi; \
	echo "unit: all $(words $(UNIT_TESTS)) test programs passed"

.PHONY: unit

# Signed policy (issue #7): shared/policy-sig.c against openssl-made vectors,
# and run.c's config load compiled into the test with UL_POLICY_ENFORCE.
UNIT_NAMES += policy-sig
UNIT_TESTS += $(UNIT_BIN_DIR)/test-policy-sig
unit_shared_policy-sig := policy-sig.c menu.c decide.c boot-state.c crc32.c config.c rules.c log.c \
	time-util.c string-util.c bcd.c bcd-store.c regf.c regf-log.c quarantine.c journal.c
unit_ldlibs_policy-sig := -lmbedcrypto
$(eval $(call unit_test_rule,policy-sig))
$(UNIT_OBJ_DIR)/tests/unit/test-policy-sig.o: shared/run.c tests/unit/policy-vectors.h
unit: $(UNIT_BIN_DIR)/test-policy-sig

# unloop-agent's logic (shared/agent.c; agent/agent.mk builds the binaries).
UNIT_NAMES += agent
UNIT_TESTS += $(UNIT_BIN_DIR)/test-agent
unit_shared_agent := agent.c boot-state.c crc32.c log.c time-util.c string-util.c
$(eval $(call unit_test_rule,agent))
unit: $(UNIT_BIN_DIR)/test-agent

# loadopt: Boot#### load options (the bootnext hand-off, issue #7); libefiboot
# (Debian's efivar, what efibootmgr uses) makes the options to read.
UNIT_NAMES += loadopt
UNIT_TESTS += $(UNIT_BIN_DIR)/test-loadopt
unit_shared_loadopt := loadopt.c log.c time-util.c string-util.c
unit_ldlibs_loadopt := -lefiboot -lefivar
$(eval $(call unit_test_rule,loadopt))
unit: $(UNIT_BIN_DIR)/test-loadopt
