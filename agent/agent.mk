# SPDX-License-Identifier: GPL-2.0-or-later
# unloop-agent: marks the boot good from the running OS (issue #7).
#   build/agent/unloop-agent       Linux, the same logic natively (tests)
#   build/agent/unloop-agent.exe   Windows service, cross-compiled with
#                                  mingw-w64 from the same shared/ sources
#   make agent                     both;  make agent-test  the tests
# Included by the top Makefile (after tests/tests.mk).

AGENT_SHARED := shared/agent.c shared/boot-state.c shared/crc32.c shared/string-util.c \
	shared/time-util.c shared/log.c
AGENT_HDR := $(wildcard shared/*.h agent/*.h recovery/posix-volume.h)

AGENT_LINUX_OBJ := $(addprefix $(B)/host/,agent/agent-posix.o agent/agent-opts.o \
	recovery/posix-volume.o $(AGENT_SHARED:.c=.o))
$(filter $(B)/host/agent/%,$(AGENT_LINUX_OBJ)): $(AGENT_HDR)

$(B)/agent/unloop-agent: $(AGENT_LINUX_OBJ)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $^

# Windows: x86_64-w64-mingw32-gcc (Debian gcc-mingw-w64-x86-64), linked
# statically so the .exe needs no mingw DLL on the PC.
MINGW_CC ?= x86_64-w64-mingw32-gcc
AGENT_WIN_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -D_WIN32_WINNT=0x0601 -DUNICODE -D_UNICODE
AGENT_WIN_OBJ := $(addprefix $(B)/agent/win/,agent/agent-win.o agent/agent-opts.o \
	$(AGENT_SHARED:.c=.o))

$(B)/agent/win/%.o: %.c $(AGENT_HDR) | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(MINGW_CC) $(AGENT_WIN_CFLAGS) -c $< -o $@

$(B)/agent/unloop-agent.exe: $(AGENT_WIN_OBJ)
	$(MINGW_CC) $(AGENT_WIN_CFLAGS) -static -municode -o $@ $^ -ladvapi32

agent: $(B)/agent/unloop-agent $(B)/agent/unloop-agent.exe
all: agent

# The unit test (tests/unit/test-agent.c) is listed in tests/unit/unit.mk;
# the integration test runs both binaries (Wine for the .exe).
agent-test: agent $(B)/unloop $(UNIT_BIN_DIR)/test-agent
	$(UNIT_BIN_DIR)/test-agent
	python3 tests/agent/test_agent.py

# libFuzzer target for the settings parser (flags, registry values).
FUZZ_NAMES += agent-config
FUZZ_TARGETS += $(FUZZ_DIR)/fuzz-agent-config
fuzz_src_agent-config := tests/agent/fuzz-agent-config.c tests/unit/fake-volume.c shared/agent.c shared/boot-state.c \
	shared/crc32.c shared/string-util.c shared/time-util.c shared/log.c
fuzz_max_len_agent-config := 8300
$(eval $(call fuzz_rule,agent-config))
fuzz-smoke fuzz: $(FUZZ_DIR)/fuzz-agent-config

.PHONY: agent agent-test
