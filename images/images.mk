# SPDX-License-Identifier: GPL-2.0-or-later
#
# images/images.mk - host tools that build test disk images.
# Included by the top-level Makefile; paths are relative to the top directory.
# Defines no all/check/demo/clean targets: the top level owns those.

IMAGES_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11
IMAGES_FDISK_CFLAGS = $(shell pkg-config --cflags fdisk)
IMAGES_FDISK_LIBS = $(shell pkg-config --libs fdisk)
IMAGES_NTFS_LIBS := -lntfs-3g

IMAGE_TOOLS := build/images/mkgpt build/images/ntfs-populate build/images/ntfs-crash-log \
	build/images/bitlocker-encrypt

build/images/mkgpt: images/mkgpt.c images/images.mk
	@mkdir -p $(@D)
	$(CC) $(IMAGES_CFLAGS) $(IMAGES_FDISK_CFLAGS) $(CPPFLAGS) -o $@ $< \
		$(LDFLAGS) $(IMAGES_FDISK_LIBS)

build/images/ntfs-populate: images/ntfs-populate.c images/images.mk
	@mkdir -p $(@D)
	$(CC) $(IMAGES_CFLAGS) $(CPPFLAGS) -o $@ $< $(LDFLAGS) $(IMAGES_NTFS_LIBS)

build/images/ntfs-crash-log: images/ntfs-crash-log.c images/images.mk
	@mkdir -p $(@D)
	$(CC) $(IMAGES_CFLAGS) -D_GNU_SOURCE $(CPPFLAGS) -o $@ $< $(LDFLAGS) $(IMAGES_NTFS_LIBS)

# BitLocker writer for test images: links the core's recovery-password parser
# and key stretch (shared/bitlocker.c) and Debian's libmbedcrypto.
BITLOCKER_ENCRYPT_SRC := images/bitlocker-encrypt.c shared/bitlocker.c shared/crc32.c \
	shared/gpt.c shared/string-util.c
build/images/bitlocker-encrypt: $(BITLOCKER_ENCRYPT_SRC) $(wildcard shared/*.h) images/images.mk
	@mkdir -p $(@D)
	$(CC) $(IMAGES_CFLAGS) -D_GNU_SOURCE $(CPPFLAGS) -o $@ $(BITLOCKER_ENCRYPT_SRC) \
		$(LDFLAGS) -lmbedcrypto

# The recovery USB stick: build/unloop-usb.img (images/build-usb.sh; write it
# to a stick with dd).  USB_CONF=FILE and USB_KEYS=DIR go onto the stick.
usb: build/unloop.efi build/images/mkgpt
	images/build-usb.sh --out build/unloop-usb.img --loader build/unloop.efi \
		$(if $(USB_CONF),--conf $(USB_CONF)) $(if $(USB_KEYS),--keys $(USB_KEYS))
.PHONY: usb
