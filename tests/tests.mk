# SPDX-License-Identifier: GPL-2.0-or-later
# Test, demo and benchmark targets; included by the top Makefile.

include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include tests/ntfs/ntfs.mk

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
