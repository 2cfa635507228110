# SPDX-License-Identifier: GPL-2.0-or-later
# mbedTLS inside the UEFI build, for shared/bitlocker.c (DESIGN.md §7,
# "mbedTLS in the UEFI build"; issue #5).
#
#   make efi-mbedtls   build/efi/mbedtls/libmbedcrypto.a and the EFI object
#                      of shared/bitlocker.c
#
# mbedTLS is compiled from Debian's mbedtls source package (the version the
# CLI's libmbedtls links), fetched and unpacked under build/src/ by
# scripts/fetch-deb-source.sh with the version and sums pinned below; never
# committed.
# Only the files shared/bitlocker.c reaches are built, with our own
# configuration efi/mbedtls-config.h and our libc shim's headers (efi/libc):
# they then need only memcpy, memset, strcmp, calloc and free.

# Pinned: the version bookworm ships (libmbedtls-dev 2.28.3-1, which the CLI
# links), so the CLI and unloop.efi run the same mbedTLS.  The sha256 of
# every file of the source package (.dsc, orig, debian).
MBEDTLS_VER := 2.28.3
MBEDTLS_DEB := 2.28.3-1
MBEDTLS_SHA256_DSC := a8bf91b5ffb40654efb0ebe0c962ac1e87b8eed5e104880982eaa70dd4bb33e3
MBEDTLS_SHA256_ORIG := 3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d
MBEDTLS_SHA256_DEBIAN := 3e03c61f63c7bbcd0bf695b53e6663ab448cc2e15429cd67d0e4f32e699645a9
MBEDTLS_DIR := $(B)/src/mbedtls-$(MBEDTLS_VER)
MBEDTLS_STAMP := $(MBEDTLS_DIR)/.unloop-unpacked-$(MBEDTLS_DEB)
MBEDTLS_B := $(B)/efi/mbedtls

# The script does nothing when the tree is there; touching the stamp records
# that it is current with the script, so make does not run it again.
$(MBEDTLS_STAMP): scripts/fetch-deb-source.sh | $(SETUP_STAMP)
	@BUILD_DIR=$(abspath $(B)) bash scripts/fetch-deb-source.sh mbedtls $(MBEDTLS_DEB) \
		$(MBEDTLS_SHA256_DSC) $(MBEDTLS_SHA256_ORIG) $(MBEDTLS_SHA256_DEBIAN)
	@touch $@

# AES (+ AES-NI) with CBC and XTS, CCM over the generic cipher layer,
# SHA-256, and the platform layer (calloc/free, zeroize).
MBEDTLS_FILES := aes aesni ccm cipher cipher_wrap sha256 platform platform_util
# Signed policy (efi/policy.mk, shared/policy-sig.c): DER public key, ECDSA
# P-256 verify.  Archive members: linked only by a policy build.
MBEDTLS_FILES += bignum ecp ecp_curves ecdsa asn1parse asn1write oid md pk pk_wrap pkparse \
	constant_time memory_buffer_alloc
MBEDTLS_OBJ := $(MBEDTLS_FILES:%=$(MBEDTLS_B)/library/%.o)

# Everyone who includes <mbedtls/...> in the EFI build sees the unpacked
# headers and our configuration, never /usr/include/mbedtls (EFI_LIBC_INC,
# from efi/ntfs.mk, has -nostdinc).
MBEDTLS_EFI_INC := $(EFI_LIBC_INC) -I$(MBEDTLS_DIR)/include \
	-DMBEDTLS_CONFIG_FILE='"$(abspath efi/mbedtls-config.h)"'
# Third-party code: the project's flags, but never -Werror.
MBEDTLS_CFLAGS := $(filter-out -Werror -Wextra,$(EFI_CFLAGS)) -Wno-error -w \
	$(MBEDTLS_EFI_INC) -I$(MBEDTLS_DIR)/library \
	-Ulinux -U__linux -U__linux__ -U__gnu_linux__ -Uunix -U__unix -U__unix__

# Sources come with the unpacked tree (order-only: their mtimes are the
# tarball's); the objects depend on the stamp, so a new unpack rebuilds them.
$(MBEDTLS_DIR)/library/%.c: | $(MBEDTLS_STAMP) ;
# The unpacked sources are not intermediate files: make must not delete them.
.SECONDARY: $(MBEDTLS_FILES:%=$(MBEDTLS_DIR)/library/%.c)

$(MBEDTLS_B)/library/%.o: $(MBEDTLS_DIR)/library/%.c $(MBEDTLS_STAMP) efi/mbedtls-config.h \
		$(wildcard efi/libc/include/*.h)
	@mkdir -p $(@D)
	$(CC) $(MBEDTLS_CFLAGS) -c $< -o $@

MBEDTLS_EFI_LIB := $(MBEDTLS_B)/libmbedcrypto.a
$(MBEDTLS_EFI_LIB): $(MBEDTLS_OBJ)
	rm -f $@
	ar rcs $@ $^

# shared/bitlocker.c with the project's full warnings: the same source as
# the CLI's (which includes Debian's /usr/include/mbedtls), here with the
# unpacked headers and efi/mbedtls-config.h.  Linked into unloop.efi as an
# object, so the undefined-symbol check covers all of it.
$(MBEDTLS_B)/shared/%.o: shared/%.c $(MBEDTLS_STAMP) efi/mbedtls-config.h $(SHARED_HDR)
	@mkdir -p $(@D)
	$(CC) $(EFI_CFLAGS) $(MBEDTLS_EFI_INC) -c $< -o $@
EFI_BITLOCKER_OBJ := $(MBEDTLS_B)/shared/bitlocker.o

efi-mbedtls: $(MBEDTLS_EFI_LIB) $(EFI_BITLOCKER_OBJ)

.PHONY: efi-mbedtls
