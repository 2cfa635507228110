# SPDX-License-Identifier: GPL-2.0-or-later
# libntfs-3g inside the UEFI build (DESIGN.md §1, "Volume stack for NTFS").
#
#   make efi-ntfs   build/efi/ntfs/libntfs-3g.a, efi/libc, and the test app
#                   build/efi/ntfs/efi-ntfs-test.efi
#
# libntfs-3g is compiled from Debian's ntfs-3g source package, fetched and
# unpacked under build/src/ by scripts/fetch-deb-source.sh with the version
# and sums pinned below; never committed.  Our libc shim is efi/libc, our device ops and
# device ops are efi/efi-ntfs.c, the mount policy and volume ops
# shared/ntfs/ul-ntfs.c (the CLI's too).

# Pinned: the version bookworm's deb-src offers (security fixes up to
# deb12u3 folded into the point release).  bookworm-security's deb12u4 (more
# libntfs-3g CVE fixes; what the CLI's libntfs-3g89 is) has sums
#   82894dcb9fa73b85f3c7b4ffef2f9cc54f963fefc29865e9b6d0656d63a99eaf .dsc
#   9036c3b839bcf37853a043f4e4e315f8481a9f7ff21ee258720baf6b3b5de5b7 .debian.tar.xz
# but its files were not downloadable from the mirror when this was pinned.
# The sha256 of every file of the source package (.dsc, orig, debian).
NTFS3G_VER := 2022.10.3
NTFS3G_EPOCH := 1:
NTFS3G_DEB := 2022.10.3-1+deb12u3
NTFS3G_SHA256_DSC := 1fda9b59fbe05abc021a6f1fc8cbf429c297571adfb88fbdb55cf018b8b44ce5
NTFS3G_SHA256_ORIG := 8bd7749ea9d8534c9f0664d48b576e90b96d45ec8803c9427f6ffaa2f0dde299
NTFS3G_SHA256_DEBIAN := 458cbea82c6201583ac5eb692a0a3e06af3dfa0671caa385a26535f2dadf946b
NTFS3G_DIR := $(B)/src/ntfs-3g-$(NTFS3G_VER)
NTFS3G_STAMP := $(NTFS3G_DIR)/.unloop-unpacked-$(NTFS3G_DEB)
NTFS_B := $(B)/efi/ntfs

$(NTFS3G_STAMP): scripts/fetch-deb-source.sh | $(SETUP_STAMP)
	@BUILD_DIR=$(abspath $(B)) bash scripts/fetch-deb-source.sh ntfs-3g $(NTFS3G_EPOCH)$(NTFS3G_DEB) \
		$(NTFS3G_SHA256_DSC) $(NTFS3G_SHA256_ORIG) $(NTFS3G_SHA256_DEBIAN)
	@touch $@

# Every libntfs-3g/*.c but the POSIX and Win32 device ops (ours replace them).
NTFS3G_FILES := acls attrib attrlist bitmap bootsect cache collate compat compress \
	debug device dir ea efs index inode ioctl lcnalloc logfile logging mft misc \
	mst object_id realpath reparse runlist security unistr volume xattrs
NTFS3G_OBJ := $(NTFS3G_FILES:%=$(NTFS_B)/libntfs-3g/%.o)

# No system header may be reached: only the compiler's freestanding headers
# (stdint.h, stddef.h, stdarg.h, stdbool.h) and efi/libc/include.
EFI_LIBC_INC := -nostdinc -isystem $(shell $(CC) -print-file-name=include) -Iefi/libc/include
# Third-party code: the project's flags, but never -Werror, and quiet about
# what libntfs-3g does on purpose.
NTFS3G_CFLAGS := $(filter-out -Werror -Wextra,$(EFI_CFLAGS)) -Wno-error -w \
	$(EFI_LIBC_INC) -I$(NTFS_B)/gen -I$(NTFS3G_DIR)/include/ntfs-3g \
	-include efi/ntfs-config.h -DNO_NTFS_DEVICE_DEFAULT_IO_OPS \
	-Ulinux -U__linux -U__linux__ -U__gnu_linux__ -Uunix -U__unix -U__unix__

# Some files include "config.h" unconditionally.
$(NTFS_B)/gen/config.h: efi/ntfs-config.h
	@mkdir -p $(@D)
	cp $< $@

$(NTFS3G_DIR)/libntfs-3g/%.c: | $(NTFS3G_STAMP) ;
# The unpacked sources are not intermediate files: make must not delete them.
.SECONDARY: $(NTFS3G_FILES:%=$(NTFS3G_DIR)/libntfs-3g/%.c)

$(NTFS_B)/libntfs-3g/%.o: $(NTFS3G_DIR)/libntfs-3g/%.c efi/ntfs-config.h $(NTFS_B)/gen/config.h \
		$(wildcard efi/libc/include/*.h efi/libc/include/sys/*.h) | $(NTFS3G_STAMP)
	@mkdir -p $(@D)
	$(CC) $(NTFS3G_CFLAGS) -c $< -o $@

$(NTFS_B)/libntfs-3g.a: $(NTFS3G_OBJ)
	rm -f $@
	ar rcs $@ $^

# Our code: the project's full warnings and -Werror.
EFI_LIBC_SRC := $(wildcard efi/libc/*.c)
EFI_LIBC_OBJ := $(EFI_LIBC_SRC:%.c=$(NTFS_B)/%.o)
$(NTFS_B)/efi/libc/%.o: efi/libc/%.c $(wildcard efi/libc/include/*.h efi/libc/include/sys/*.h) \
		shared/string-util.h | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EFI_CFLAGS) $(EFI_LIBC_INC) -c $< -o $@

$(NTFS_B)/libulibc.a: $(EFI_LIBC_OBJ)
	rm -f $@
	ar rcs $@ $^

# efi-ntfs.c and the shared glue see libntfs-3g's headers (as <ntfs-3g/...>),
# hence our libc's headers too, plus gnu-efi's.
EFI_NTFS_CFLAGS := $(EFI_CFLAGS) $(EFI_LIBC_INC) -I$(NTFS3G_DIR)/include \
	-I$(NTFS3G_DIR)/include/ntfs-3g -include efi/ntfs-config.h
EFI_NTFS_HDR := efi/efi-ntfs.h efi/ntfs-config.h shared/ntfs/ul-ntfs.h $(SHARED_HDR) \
	$(wildcard efi/libc/include/*.h)
$(NTFS_B)/efi/%.o: efi/%.c $(EFI_NTFS_HDR) | $(NTFS3G_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EFI_NTFS_CFLAGS) -c $< -o $@
$(NTFS_B)/shared/ntfs/%.o: shared/ntfs/%.c $(EFI_NTFS_HDR) | $(NTFS3G_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EFI_NTFS_CFLAGS) -c $< -o $@

# Our objects that unloop.efi links for NTFS.
EFI_NTFS_GLUE_OBJ := $(NTFS_B)/efi/efi-ntfs.o $(NTFS_B)/shared/ntfs/ul-ntfs.o

# The test app (tests/efi-ntfs/) + the NTFS glue + the pieces of unloop.efi it needs.
$(NTFS_B)/tests/efi-ntfs-test.o: tests/efi-ntfs/efi-ntfs-test.c $(EFI_NTFS_HDR) | $(NTFS3G_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EFI_NTFS_CFLAGS) -c $< -o $@

# (linked in tests/tests.mk, once replay.mk and mbedtls.mk have said what they add)
