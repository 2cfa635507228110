#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# images/build-usb.sh - build the recovery USB stick image: GPT with one
# FAT32 EFI system partition holding unloop.efi as the removable-media boot
# loader, its config, a key folder and a report folder.
#
#   images/build-usb.sh [--out IMG] [--loader FILE.efi] [--conf FILE]
#                       [--keys DIR] [--size MiB]
#
#   --out     the image (default: build/unloop-usb.img)
#   --loader  unloop.efi, installed as \EFI\BOOT\BOOTX64.EFI
#             (default: build/unloop.efi)
#   --conf    \EFI\unloop\unloop.conf (default: a commented config for the
#             stick, every key at its default)
#   --keys    copy this folder's content into \keys\ (key files, .BEK files)
#   --size    image size in MiB (default 64, at least 40: FAT32 needs
#             65525 clusters); the ESP fills it
#
# Layout of the stick:
#   \EFI\BOOT\BOOTX64.EFI    unloop.efi
#   \EFI\unloop\unloop.conf  its config
#   \keys\README.TXT         what goes in \keys\ (BitLocker key material)
#   \reports\                one report per machine, written by unloop.efi
#
# Writes IMG and IMG.layout (esp_offset=, esp_size=, disk_size=, in bytes).
# Needs no root.  Quiet unless something fails.  Tools: build/images/mkgpt
# (override the directory with IMAGE_TOOLS_DIR), mkfs.fat, mtools.
set -euo pipefail

usage_lines=7,20
# shellcheck source=images/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$top/build/unloop-usb.img loader=$top/build/unloop.efi conf="" keys="" size_mib=64
while [ $# -gt 0 ]; do
	case "$1" in
	--out|--loader|--conf|--keys|--size)
		[ $# -ge 2 ] || die "$1 needs an argument"
		case "$1" in
		--out) out=$2 ;;
		--loader) loader=$2 ;;
		--conf) conf=$2 ;;
		--keys) keys=$2 ;;
		--size) size_mib=$2 ;;
		esac
		shift 2 ;;
	-h|--help) usage ;;
	*) echo "$prog: unknown argument '$1'" >&2; usage ;;
	esac
done

if ! [[ "$size_mib" =~ ^[0-9]+$ ]] || [ "$size_mib" -lt 40 ]; then
	die "--size: want a number of MiB >= 40, got '$size_mib'"
fi
need_file --loader "$loader"
[ -z "$conf" ] || need_file --conf "$conf"
[ -z "$keys" ] || [ -d "$keys" ] || die "--keys: '$keys' is not a directory"
[ -x "$tools/mkgpt" ] || die "$tools/mkgpt is missing: run 'make build/images/mkgpt' first"
for t in mkfs.fat mmd mcopy; do
	command -v "$t" >/dev/null || die "$t not found (Debian: dosfstools, mtools)"
done
if [ -e "$out" ] && [ ! -f "$out" ]; then
	die "$out exists and is not a regular file; refusing to touch it (write the image to a stick with dd, see README)"
fi

# Work files next to the output (same file system: sparse, renamed at the end).
outdir=$(dirname "$out")
[ -d "$outdir" ] || die "directory '$outdir' does not exist"
work=$(mktemp -d "$outdir/.${out##*/}.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
disk=$work/disk.img esp=$work/esp.img

# --- partition table ---------------------------------------------------------
truncate -s "${size_mib}M" "$disk"
layout=$("$tools/mkgpt" "$disk" "esp:rest:unloop recovery") || die "mkgpt failed on $disk"
read -r _ esp_start esp_sectors type <<<"$layout"
if [ "$type" != esp ] || [ -z "$esp_sectors" ]; then
	die "unexpected mkgpt output: $layout"
fi

# --- text files (CRLF: technicians open them with Notepad) -------------------
crlf() { sed 's/$/\r/' >"$1"; }

if [ -z "$conf" ]; then
	conf=$work/unloop.conf
	crlf "$conf" <<'EOF'
# unloop.conf on the recovery stick.  Lines starting with # are comments;
# every key below is shown at its default.  `unloop config check FILE`
# on Linux finds mistakes before you copy this file back.

[unloop]
# A recovery stick: find the machine's Windows installations and repair them
# (removable media is rescue mode anyway; some USB disks do not say they are).
mode = rescue
# log_level = info       # error, warning, notice, info, debug

[bitlocker]
# The stick's key folder: AD/Entra CSV exports, manage-bde output, {GUID}.BEK
# startup keys (see \keys\README.TXT).
keys = \keys
# prompt = yes           # no key found: ask for the 48-digit recovery password
# prompt_timeout = 30    # seconds without a key press before giving up (then Safe Mode)

[quarantine]
# unclean_log = replay   # replay | replay-or-reset | refuse
# hibernated = refuse    # refuse | discard: drop a hibernated (Fast Startup) session
# max_files = 64         # most files the wide step moves

# [rule crowdstrike-channel]   # change a built-in rule, or name a new one to add it
# path = \Windows\System32\drivers\CrowdStrike\C-00000291*.sys
# content = any          # any | bad-magic | zero | bad-magic-or-zero

# [script]                 # see README, scripted mode: runs with no keypress
# actions = quarantine     # quarantine, quarantine-wide, restore, safe-mode,
#                          # safe-mode-network, safe-mode-off (in order)
# fallback = safe-mode     # when the actions fixed nothing; none to do nothing
# select = first           # first | all | disk N | label NAME
# key_file = \keys\bitlocker.csv
# then = reboot            # reboot | poweroff | boot | menu
EOF
fi

crlf "$work/README.TXT" <<'EOF'
unloop recovery stick: the \keys\ folder
=========================================

Put here what unloop needs to unlock BitLocker-encrypted Windows volumes
before Windows starts.  Nothing here is required: a machine without a key
for its volume gets Safe Mode instead, which needs no key.

Files unloop reads from this folder (any file names, any number of files):

- Key exports from Active Directory or Microsoft Entra ID (Intune), saved
  as CSV: one row per recovery key, with the key protector ID (the
  "Key ID", a GUID) and its 48-digit recovery password.

- The output of  manage-bde -protectors -get C:  saved as a .TXT file
  (on each machine, or collected by a script), which lists the
  "Numerical Password" protectors with their IDs and passwords.

- The "BitLocker Recovery Key {GUID}.TXT" files Windows saves when you
  back up a recovery key to a file.

- Startup key files named {GUID}.BEK, as BitLocker writes them to a USB
  drive ("Save to a USB drive" / manage-bde -protectors -add -startupkey).

unloop matches each volume's protector IDs against these files, so one
export can hold the keys of a whole site.  unloop never writes keys to
the reports or the screen, only protector IDs.

These files unlock every listed machine: keep the stick like the key
export itself (a locked drawer, not a pocket), and delete the files when
the incident is over.

\reports\ gets one report per machine unloop ran on (what it found and
did, never a key), named after the machine (SMBIOS UUID and serial).
EOF

# --- ESP -----------------------------------------------------------------------
# -h: hidden sectors = partition start, as Windows formats it.
truncate -s $((esp_sectors * 512)) "$esp"
quiet mkfs.fat -F 32 -n UNLOOP -S 512 -h "$esp_start" "$esp"
export MTOOLS_SKIP_CHECK=1
quiet mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/unloop ::/keys ::/reports
quiet mcopy -i "$esp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
quiet mcopy -i "$esp" "$conf" ::/EFI/unloop/unloop.conf
quiet mcopy -i "$esp" "$work/README.TXT" ::/keys/README.TXT
if [ -n "$keys" ]; then
	shopt -s nullglob dotglob
	entries=("$keys"/*)
	shopt -u nullglob dotglob
	[ ${#entries[@]} -eq 0 ] || quiet mcopy -s -o -i "$esp" "${entries[@]}" ::/keys/
fi

# --- assemble ----------------------------------------------------------------
quiet dd if="$esp" of="$disk" bs=1M seek=$((esp_start * 512)) oflag=seek_bytes \
	conv=notrunc,sparse status=none

cat >"$work/layout" <<EOF
esp_offset=$((esp_start * 512))
esp_size=$((esp_sectors * 512))
disk_size=$((size_mib * 1024 * 1024))
EOF
mv -f "$disk" "$out"
mv -f "$work/layout" "$out.layout"
