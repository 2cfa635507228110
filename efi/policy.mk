# SPDX-License-Identifier: GPL-2.0-or-later
# Signed policy (issue #7, deliverable 6; shared/policy-sig.h):
#
#   make policy POLICY_KEY=pub.pem
#       build/policy/unloop.efi and build/policy/unloop with the public key
#       pub.pem (PEM or DER, NIST P-256) built in: they accept
#       \EFI\unloop\unloop.conf only with a valid \EFI\unloop\unloop.conf.sig
#       and otherwise use the built-in defaults.  Sign the .efi for Secure
#       Boot with `make build/policy/unloop.signed.efi KEY=... CERT=...`.
#   make policy-test
#       the same in build/policy-test/, with a throwaway key pair that openssl
#       generates there (tests/qemu/test_policy.py); never for real use.
#
# The ordinary build (build/unloop.efi, build/unloop) does not change: it
# never reads unloop.conf.sig.  A policy build lives in its own directory so
# that switching keys (or none) can never leave a stale binary behind; only
# run.c (the config load), the CLI's policy-cmd.c and the generated key are
# compiled again, everything else is the ordinary build's objects.

POLICY_GOALS := $(filter policy $(B)/policy/%,$(MAKECMDGOALS))
ifneq ($(POLICY_GOALS),)
  ifeq ($(strip $(POLICY_KEY)),)
    $(error make policy: POLICY_KEY is missing. Usage: make policy POLICY_KEY=pub.pem (a NIST P-256 public key))
  endif
endif

# The ordinary CLI has `unloop policy verify` too (it says it does not
# enforce, or checks a config against a key named on the command line):
# policy-cmd.c and policy-sig.c are in CLI_SRC.
# The EFI object of policy-sig.c: the pattern rule of efi/mbedtls.mk
# ($(MBEDTLS_B)/shared/%.o) with the unpacked headers and our configuration.
POLICY_EFI_SIG_OBJ := $(MBEDTLS_B)/shared/policy-sig.o

# $(1): output directory, $(2): the public key file.
define policy_build
$(1)/policy-key.c: FORCE_POLICY_KEY $(2) efi/gen-policy-key.sh | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	@bash efi/gen-policy-key.sh '$(2)' $$@

$(1)/efi/policy-key.o: $(1)/policy-key.c shared/policy-sig.h
	@mkdir -p $$(@D)
	$$(CC) $$(EFI_CFLAGS) -Ishared -c $$< -o $$@
$(1)/efi/shared/run.o: shared/run.c $$(SHARED_HDR) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(EFI_CFLAGS) -DUL_POLICY_ENFORCE -c $$< -o $$@
$(1)/host/policy-key.o: $(1)/policy-key.c shared/policy-sig.h
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_CFLAGS) -Ishared -c $$< -o $$@
$(1)/host/%.o: %.c $$(SHARED_HDR) $$(wildcard recovery/*.h) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_CFLAGS) -DUL_POLICY_ENFORCE $$(shell pkg-config --cflags fdisk) -c $$< -o $$@

$(1)_EFI_OBJ := $$(filter-out $(B)/efi/shared/run.o,$$(EFI_OBJ)) $(1)/efi/shared/run.o \
	$(1)/efi/policy-key.o $(POLICY_EFI_SIG_OBJ)
$(1)/unloop.efi: $$($(1)_EFI_OBJ) $$(EFI_BITLOCKER_LINK) $$(EFI_NTFS_LINK)
	@mkdir -p $$(@D)
	$$(call efi_link,$$($(1)_EFI_OBJ) $$(EFI_BITLOCKER_LINK) $$(EFI_NTFS_LINK),$$@)

$(1)_CLI_OBJ := $$(filter-out $(B)/host/shared/run.o,$$(HOST_SHARED_OBJ)) \
	$$(filter-out $(B)/host/recovery/policy-cmd.o,$$(CLI_OBJ)) \
	$(1)/host/shared/run.o $(1)/host/recovery/policy-cmd.o $(1)/host/policy-key.o \
	$$(REPLAY_HOST_OBJ)
$(1)/unloop: $$($(1)_CLI_OBJ)
	$$(CC) $$(HOST_CFLAGS) -o $$@ $$^ $$(CLI_LIBS)
endef

$(eval $(call policy_build,$(B)/policy,$(POLICY_KEY)))

policy: $(B)/policy/unloop.efi $(B)/policy/unloop
	@echo "policy: $(B)/policy/unloop.efi and $(B)/policy/unloop enforce signed policy" \
		"(key $$(sed -n 's/.*ul_policy_key_id\[\] = "\(.*\)";/\1/p' $(B)/policy/policy-key.c))"

# Tests: a throwaway P-256 key pair made by openssl in build/policy-test/
# (the private key stays in build/, never committed).
POLICY_TEST_B := $(B)/policy-test
$(POLICY_TEST_B)/test-key.pem: | $(SETUP_STAMP)
	@mkdir -p $(@D)
	openssl ecparam -name prime256v1 -genkey -noout -out $@.tmp && mv $@.tmp $@
$(POLICY_TEST_B)/test-pub.pem: $(POLICY_TEST_B)/test-key.pem
	openssl pkey -in $< -pubout -out $@

$(eval $(call policy_build,$(POLICY_TEST_B),$(POLICY_TEST_B)/test-pub.pem))

policy-test: $(POLICY_TEST_B)/unloop.efi $(POLICY_TEST_B)/unloop

FORCE_POLICY_KEY:
.PHONY: policy policy-test FORCE_POLICY_KEY
