# SPDX-License-Identifier: GPL-2.0-or-later
# unloop: one Makefile, readable targets (see README.md).
#   make            build/unloop.efi, build/unloop (CLI), test tools
#   make check      unit tests, fuzz smoke, QEMU integration tests
#   make demo       a boot loop caught and broken in QEMU, as a transcript
#   make bench      healthy-boot overhead, 20,000-file scans (CLI and pre-boot)
#   make fuzz       run the fuzzers for FUZZ_SECONDS each
#   make install    /usr/bin/unloop, /usr/lib/unloop/unloop.efi, man page, systemd unit
#   make policy     a signed-policy build (POLICY_KEY=pub.pem), see efi/policy.mk
#   make agent      unloop-agent for Linux and unloop-agent.exe (mingw-w64)

.DEFAULT_GOAL := all
B := build

SETUP_STAMP := $(B)/.setup-done
# Every entry point that needs packages depends on this; it is quiet when
# everything is installed.
$(SETUP_STAMP): scripts/setup.sh
	@bash scripts/setup.sh
	@mkdir -p $(@D) && touch $@
setup:
	@bash scripts/setup.sh
	@mkdir -p $(B) && touch $(SETUP_STAMP)

SHARED_SRC := $(addprefix shared/,string-util.c time-util.c crc32.c boot-state.c config.c rules.c \
	log.c decide.c menu.c run.c regf.c regf-log.c bcd.c bcd-store.c gpt.c journal.c quarantine.c json-out.c \
	bitlocker-keys.c bitlocker-unlock.c rescue.c smbios.c)
# Boot#### load options, device paths and BootOrder (the bootnext hand-off, issue #7).
SHARED_SRC += shared/loadopt.c
SHARED_HDR := $(wildcard shared/*.h shared/ntfs/*.h)

# ---------------------------------------------------------------- host builds
CC ?= gcc
HOST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE
HOST_SHARED_OBJ := $(SHARED_SRC:%.c=$(B)/host/%.o)

$(B)/host/%.o: %.c $(SHARED_HDR) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(shell pkg-config --cflags fdisk) -c $< -o $@

CLI_SRC := recovery/main.c recovery/posix-volume.c recovery/json.c recovery/bcd-cmd.c \
	recovery/ntfs-volume.c recovery/ntfs-cmd.c shared/ntfs/ul-ntfs.c recovery/report-cmd.c recovery/json-read.c
# BitLocker: the CLI links Debian's libmbedtls (-lmbedcrypto); unloop.efi
# links shared/bitlocker.c with mbedTLS built from source (efi/mbedtls.mk).
CLI_SRC += recovery/bitlocker-cmd.c recovery/bitlocker-volume.c recovery/fd-io.c recovery/ntfs-window.c shared/bitlocker.c
# unloop install / uninstall: firmware boot entries through Debian's libefivar /
# libefiboot (efivarfs).  unloop policy verify / sign: shared/policy-sig.c over
# libmbedcrypto (a policy build, efi/policy.mk, swaps in its own policy-cmd.o).
CLI_SRC += recovery/install-cmd.c recovery/policy-cmd.c shared/policy-sig.c
CLI_OBJ := $(CLI_SRC:%.c=$(B)/host/%.o)
CLI_LIBS := -lntfs-3g $(shell pkg-config --libs fdisk) -lmbedcrypto -lefiboot -lefivar
$(CLI_OBJ): $(wildcard recovery/*.h shared/ntfs/*.h)

# (linked below, after shared/ntfs/replay.mk says what else it needs)

# ---------------------------------------------------------------- UEFI builds
# gnu-efi from Debian (pinned in scripts/setup.sh); protocols are called
# directly with the MS ABI, no gnu-efi helper library (CONVENTIONS.md).
EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
EFI_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -fpic -fshort-wchar -mno-red-zone -fno-stack-protector \
	-fno-strict-aliasing -fno-tree-loop-distribute-patterns -fno-builtin \
	-DGNU_EFI_USE_MS_ABI -I$(EFI_INC) -I$(EFI_INC)/x86_64
EFI_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic --no-undefined \
	-T $(EFI_LIB)/elf_x86_64_efi.lds -L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o

EFI_SRC := efi/main.c efi/efi-util.c efi/efi-volume.c efi/efi-console.c \
	efi/efi-chainload.c efi/efi-reset.c efi/efi-libc.c efi/efi-windows.c efi/efi-rescue.c \
	efi/efi-tftp.c
# The bootnext hand-off (issue #7).
EFI_SRC += efi/efi-bootnext.c
EFI_OBJ := $(EFI_SRC:%.c=$(B)/efi/%.o) $(SHARED_SRC:%.c=$(B)/efi/%.o)

$(B)/efi/%.o: %.c $(SHARED_HDR) $(wildcard efi/*.h) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EFI_CFLAGS) -c $< -o $@

# Link, refuse any undefined symbol, then convert the ELF to a PE32+ EFI app.
define efi_link
	ld $(EFI_LDFLAGS) $(1) -lgnuefi -o $(2:.efi=.so)
	@undef=$$(nm -u $(2:.efi=.so)); if [ -n "$$undef" ]; then \
		echo "error: $(2:.efi=.so) has undefined symbols:"; echo "$$undef"; rm -f $(2:.efi=.so); exit 1; fi
	objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
		-j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10 \
		$(2:.efi=.so) $(2)
endef

# libntfs-3g from Debian's source package, our libc shim and NTFS glue (efi/ntfs.mk).
include efi/ntfs.mk
# $LogFile replay: ntfs-3g's ntfsrecover as a library (shared/ntfs/replay.mk).
include shared/ntfs/replay.mk
# mbedTLS from Debian's source package, for shared/bitlocker.c (efi/mbedtls.mk).
include efi/mbedtls.mk
include efi/sign.mk
EFI_NTFS_LINK := $(EFI_NTFS_GLUE_OBJ) $(REPLAY_EFI_OBJ) $(NTFS_B)/libntfs-3g.a $(NTFS_B)/libulibc.a
# BitLocker: our object, then mbedTLS; libulibc.a (calloc, free, strcmp) after both.
EFI_BITLOCKER_LINK := $(EFI_BITLOCKER_OBJ) $(MBEDTLS_EFI_LIB)

$(B)/unloop: $(CLI_OBJ) $(HOST_SHARED_OBJ) $(REPLAY_HOST_OBJ)
	$(CC) $(HOST_CFLAGS) -o $@ $^ $(CLI_LIBS)

$(B)/unloop.efi: $(EFI_OBJ) $(EFI_BITLOCKER_LINK) $(EFI_NTFS_LINK)
	$(call efi_link,$(EFI_OBJ) $(EFI_BITLOCKER_LINK) $(EFI_NTFS_LINK),$@)

$(B)/stub-loader.efi: $(B)/efi/tests/stub-loader/stub-loader.o
	$(call efi_link,$^,$@)

# The TFTP volume on its own, booted over PXE by tests/qemu/test_pxe.py.
$(B)/efi-tftp-test.efi: $(addprefix $(B)/efi/,tests/efi-tftp/efi-tftp-test.o efi/efi-tftp.o \
		efi/efi-util.o shared/string-util.o shared/crc32.o)
	$(call efi_link,$^,$@)

# ---------------------------------------------------------------- images
include images/images.mk
$(IMAGE_TOOLS): | $(SETUP_STAMP)

# ---------------------------------------------------------------- tests
include tests/tests.mk

all: $(B)/unloop.efi $(B)/unloop $(B)/stub-loader.efi $(IMAGE_TOOLS)

clean:
	rm -rf $(B)

# Install the Linux side where unloop-bless.service and `unloop install` look
# for it: /usr/bin/unloop, /usr/lib/unloop/unloop.efi (what `unloop install`
# copies to the ESP), the man page and the systemd unit (not enabled:
# `systemctl enable unloop-bless.service`).  DESTDIR for packaging.
PREFIX ?= /usr
install: $(B)/unloop $(B)/unloop.efi
	install -D -m 755 $(B)/unloop $(DESTDIR)$(PREFIX)/bin/unloop
	install -D -m 644 $(B)/unloop.efi $(DESTDIR)$(PREFIX)/lib/unloop/unloop.efi
	install -D -m 644 recovery/unloop.8 $(DESTDIR)$(PREFIX)/share/man/man8/unloop.8
	install -D -m 644 recovery/unloop-bless.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/unloop-bless.service

.PHONY: all clean install setup check demo bench fuzz unit efi-ntfs


# Signed policy (issue #7): make policy POLICY_KEY=pub.pem, make policy-test (efi/policy.mk).
include efi/policy.mk

include agent/agent.mk

