# SPDX-License-Identifier: GPL-2.0-or-later
# Test, demo and benchmark targets; included by the top Makefile.

include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include tests/ntfs/ntfs.mk

# The libntfs-3g test app of efi/ntfs.mk: the NTFS glue (which stacks the
# BitLocker layer, so shared/bitlocker.c and mbedTLS come along) and the
# pieces of unloop.efi it needs.
EFI_NTFS_TEST_OBJ := $(NTFS_B)/tests/efi-ntfs-test.o $(EFI_NTFS_GLUE_OBJ) $(REPLAY_EFI_OBJ) \
	$(B)/efi/efi/efi-libc.o $(B)/efi/shared/string-util.o $(B)/efi/shared/time-util.o \
	$(B)/efi/shared/gpt.o $(B)/efi/shared/crc32.o $(EFI_BITLOCKER_LINK)
$(NTFS_B)/efi-ntfs-test.efi: $(EFI_NTFS_TEST_OBJ) $(NTFS_B)/libntfs-3g.a $(NTFS_B)/libulibc.a
	$(call efi_link,$(EFI_NTFS_TEST_OBJ) $(NTFS_B)/libntfs-3g.a $(NTFS_B)/libulibc.a,$@)

efi-ntfs: $(NTFS_B)/libntfs-3g.a $(NTFS_B)/efi-ntfs-test.efi

# Boot the test app in QEMU/OVMF and check the volume with ntfs-3g's tools.
efi-ntfs-check: $(NTFS_B)/efi-ntfs-test.efi $(B)/stub-loader.efi $(IMAGE_TOOLS)
	python3 tests/qemu/ntfs_smoke.py

.PHONY: efi-ntfs-check

QEMU_DEPS := $(B)/unloop.efi $(B)/unloop $(B)/stub-loader.efi $(IMAGE_TOOLS)

# All tests: units, CLI, fuzz smoke, image check, QEMU integration. Prints a
# closing "check: N passed, N failed" line; fails if anything failed.
check: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(FUZZ_TARGETS) $(NTFS_TESTS) $(REPLAY_TEST)
	@bash tests/run-check.sh

demo: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS)
	@python3 tests/qemu/demo.py

# Copy the demo's screenshot of the recovery menu into the docs.
docs-screenshot: demo
	cp $(B)/demo/recovery-menu.png docs/recovery-menu.png

bench: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS)
	@python3 tests/qemu/bench.py
	@python3 tests/bench/bench_scan.py
	@python3 tests/qemu/bench_preboot.py
	@python3 tests/bench/bench_bitlocker.py

qemu-test: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS)
	@python3 tests/qemu/test_boot.py

# Pull the plug on QEMU at random moments while unloop.efi quarantines (slow).
qemu-power-cut: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS)
	@python3 tests/qemu/test_boot.py --power-cut
	@python3 tests/qemu/cut_every_write.py

.PHONY: check demo docs-screenshot bench qemu-test qemu-power-cut

# Signed policy (issue #7): the policy build with a throwaway openssl key
# (efi/policy.mk, build/policy-test/) and its QEMU test.
check: policy-test
qemu-policy: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS) policy-test
	@python3 tests/qemu/test_policy.py
.PHONY: qemu-policy

# unloop install / uninstall (recovery/install-cmd.c).
#   make install-test   the install record's parser (cmocka, ASan/UBSan) and
#                       the CLI's usage errors and refusals on the host
#   make qemu-linux     Debian's kernel boots through unloop and blesses;
#                       install/uninstall through efivarfs in the guest
#                       (tests/qemu/test_linux.py, 1.5-2.5 minutes under TCG)
INSTALL_REC_SRC := recovery/install-cmd.c recovery/fd-io.c shared/crc32.c shared/gpt.c \
	shared/string-util.c
INSTALL_LIBS := -lefiboot -lefivar
$(UNIT_BIN_DIR)/test-install-record: tests/cli/test-install-record.c $(INSTALL_REC_SRC) \
		recovery/cli.h $(SHARED_HDR) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -Wno-unused-parameter -D_GNU_SOURCE -o $@ $(filter %.c,$^) \
		$(INSTALL_LIBS) $(UNIT_LDLIBS)
# make check builds it with the other unit tests and run-check.sh runs it.
UNIT_TESTS += $(UNIT_BIN_DIR)/test-install-record
unit: $(UNIT_BIN_DIR)/test-install-record
install-test: $(UNIT_BIN_DIR)/test-install-record $(B)/unloop
	@$(UNIT_BIN_DIR)/test-install-record
	@bash tests/cli/test-install.sh
qemu-linux: $(SETUP_STAMP)
	@$(MAKE) --no-print-directory $(QEMU_DEPS)
	@python3 tests/qemu/test_linux.py
.PHONY: install-test qemu-linux

# libFuzzer target for the install record (fuzz.mk's rule and smoke run).
FUZZ_NAMES += install-record
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-install-record
fuzz_src_install-record := tests/fuzz/fuzz-install-record.c $(INSTALL_REC_SRC)
fuzz_ldlibs_install-record := $(INSTALL_LIBS)
fuzz_max_len_install-record := 8300
$(eval $(call fuzz_rule,install-record))
$(FUZZ_DIR)/fuzz-install-record: recovery/cli.h
fuzz-smoke: $(FUZZ_DIR)/fuzz-install-record
