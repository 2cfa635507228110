#!/usr/bin/env bash
# Install every Debian package that building, testing and the demo need.
# Idempotent and non-interactive; prints nothing when all is present.
set -euo pipefail

PKGS=(
  make gcc clang libclang-rt-14-dev pkg-config   # toolchain, libFuzzer + sanitizers
  gnu-efi                                        # UEFI build (pinned below)
  libfdisk-dev libcmocka-dev ntfs-3g-dev         # CLI, unit tests, image builder
  qemu-system-x86 ovmf                           # integration tests, demo, bench
  sbsigntool openssl                             # make sign: sbsign/sbverify (Secure Boot); signed policy keys (make policy-test)
  mtools dosfstools ntfs-3g fdisk                # image builder and host-side checks
  libhivex-bin                                   # BCD oracle (later issues)
  libmbedtls-dev                                 # BitLocker crypto in the CLI (AES, CCM, SHA-256)
  dislocker libbde-utils                         # BitLocker oracles (tests/bitlocker)
  python3-cryptography                           # tests/bitlocker: derived volumes (AES-CCM)
  python3                                        # QEMU harness, CLI tests
  groff-base                                     # man page check
  dpkg-dev xz-utils                              # ntfs-3g, mbedtls sources for unloop.efi (fetch-deb-source.sh)
  gcc-mingw-w64-x86-64 wine64                    # unloop-agent.exe (agent/agent.mk) and its test under Wine
  swtpm swtpm-tools libefiboot-dev libefivar-dev # bootnext: TPM 2.0 for OVMF (swtpm); load options as efibootmgr makes them (unit test)
  busybox-static cpio kmod                       # unloop install (libefivar above); Linux guest of tests/qemu/test_linux.py
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# gnu-efi is pinned by its Debian version: the build relies on its crt0 calling
# efi_main with the System V ABI and on -DGNU_EFI_USE_MS_ABI (CONVENTIONS.md).
want_gnuefi="3.0.15"
have_gnuefi=$(dpkg-query -W -f='${Version}' gnu-efi)
case "$have_gnuefi" in
  "$want_gnuefi"*) ;;
  *) echo "setup: gnu-efi $have_gnuefi found, $want_gnuefi expected (Debian 12); the build may not work" >&2 ;;
esac
