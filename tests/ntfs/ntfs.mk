# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/ntfs/ntfs.mk - the NTFS glue (shared/ntfs/, recovery/ntfs-volume.c) against real
# volumes, with the ntfs-3g tools as oracle.  Included by the top Makefile;
# paths are relative to the top directory.  `make ntfs-test` builds the
# image tools it needs and runs it (the test skips the test-machine cases,
# with a message, when build/images/{mkgpt,ntfs-populate} are missing).

NTFS_TESTS := build/tests/ntfs/test-ntfs-volume

NTFS_TEST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-fsanitize=address,undefined \
	-fno-omit-frame-pointer -D_GNU_SOURCE
NTFS_TEST_LDLIBS := -lcmocka -lntfs-3g
# shared/ sources the adapter needs: the libntfs-3g glue
NTFS_TEST_SHARED := ntfs/ul-ntfs.c
NTFS_TEST_SRC := tests/ntfs/test-ntfs-volume.c recovery/ntfs-volume.c recovery/ntfs-window.c recovery/fd-io.c \
	$(addprefix shared/,$(NTFS_TEST_SHARED)) shared/ntfs/ntfs-replay.c

build/tests/ntfs/test-ntfs-volume: $(NTFS_TEST_SRC) recovery/ntfs-volume.h recovery/ntfs-window.h shared/ops.h shared/ntfs/ul-ntfs.h \
		tests/ntfs/ntfs.mk $(REPLAY_HOST_B)/ntfsrecover-lib.o
	@mkdir -p $(@D)
	$(CC) $(NTFS_TEST_CFLAGS) -o $@ $(NTFS_TEST_SRC) $(REPLAY_HOST_B)/ntfsrecover-lib.o \
		$(NTFS_TEST_LDLIBS)

# The CLI with the sanitizers, for tests/ntfs/cut_every_write.py: the run
# after a power cut must not touch memory it should not.
NTFS_ASAN_CLI_SRC := $(CLI_SRC) $(SHARED_SRC) shared/ntfs/ntfs-replay.c
build/tests/ntfs/unloop-asan: $(NTFS_ASAN_CLI_SRC) $(SHARED_HDR) $(wildcard recovery/*.h) \
		$(REPLAY_HOST_B)/ntfsrecover-lib.o
	@mkdir -p $(@D)
	$(CC) $(NTFS_TEST_CFLAGS) $(shell pkg-config --cflags fdisk) -o $@ $(NTFS_ASAN_CLI_SRC) \
		$(REPLAY_HOST_B)/ntfsrecover-lib.o $(CLI_LIBS)
NTFS_TESTS += build/tests/ntfs/unloop-asan

ntfs-test: $(NTFS_TESTS) build/images/mkgpt build/images/ntfs-populate
	./build/tests/ntfs/test-ntfs-volume

.PHONY: ntfs-test
