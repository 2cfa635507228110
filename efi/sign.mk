# SPDX-License-Identifier: GPL-2.0-or-later
# Secure Boot signing (issue #7):
#
#   make sign KEY=db.key CERT=db.crt [KEY_PASS_FILE=FILE] [SBSIGN_FLAGS=...]
#
# signs build/unloop.efi with sbsign (Debian's sbsigntool) into
# build/unloop.signed.efi and checks the result with `sbverify --cert CERT`.
# The same rule signs any build/NAME.efi as build/NAME.signed.efi
# (`make build/stub-loader.signed.efi KEY=... CERT=...`; the Secure Boot
# tests sign their stand-in Windows Boot Manager that way).
#
# KEY is the PEM private key whose certificate CERT (PEM) the firmware
# trusts: one you enrolled in db (README, "Secure Boot"). An encrypted KEY
# makes sbsign ask for the passphrase on the terminal, unless KEY_PASS_FILE
# names a file holding it: then openssl decrypts the key into a pipe, never
# into a file.
# SBSIGN_FLAGS goes to sbsign as is (e.g. --engine pkcs11 for a key in an
# HSM, --addcert for intermediate certificates).
# The unsigned build/unloop.efi stays as it is; the signed copy is made
# afresh on every call (the key may have changed, make cannot see that).

SIGN_GOALS := $(filter sign %.signed.efi,$(MAKECMDGOALS))
ifneq ($(SIGN_GOALS),)
  # Refuse before anything is built.
  ifeq ($(strip $(KEY)),)
    $(error make sign: KEY is missing. Usage: make sign KEY=db.key CERT=db.crt [KEY_PASS_FILE=FILE])
  endif
  ifeq ($(strip $(CERT)),)
    $(error make sign: CERT is missing. Usage: make sign KEY=db.key CERT=db.crt [KEY_PASS_FILE=FILE])
  endif
  ifeq ($(filter --engine%,$(SBSIGN_FLAGS)),)
    ifeq ($(wildcard $(KEY)),)
      $(error make sign: KEY=$(KEY): no such file)
    endif
  endif
  ifeq ($(wildcard $(CERT)),)
    $(error make sign: CERT=$(CERT): no such file)
  endif
  ifneq ($(KEY_PASS_FILE),)
    ifeq ($(wildcard $(KEY_PASS_FILE)),)
      $(error make sign: KEY_PASS_FILE=$(KEY_PASS_FILE): no such file)
    endif
  endif
endif

# bash for the process substitution that keeps a decrypted key off the disk.
sign_key = $(if $(KEY_PASS_FILE),<(openssl pkey -in '$(KEY)' -passin 'file:$(KEY_PASS_FILE)'),'$(KEY)')

sign: $(B)/unloop.signed.efi
	@echo "sign: $< is signed (install it on the ESP in place of unloop.efi)"

$(B)/%.signed.efi: $(B)/%.efi FORCE_SIGN | $(SETUP_STAMP)
	@rm -f $@ $@.tmp
	bash -c "sbsign $(SBSIGN_FLAGS) --key $(sign_key) --cert '$(CERT)' --output '$@.tmp' '$<'"
	@sbverify --cert '$(CERT)' '$@.tmp' || { \
		echo "make sign: sbverify --cert $(CERT) does not accept $@ (is KEY the key of CERT?)" >&2; \
		rm -f '$@.tmp'; exit 1; }
	@mv '$@.tmp' '$@'

FORCE_SIGN:
.PHONY: sign FORCE_SIGN
