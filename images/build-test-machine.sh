#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# images/build-test-machine.sh - build the raw GPT disk image of the test
# machine: ESP (FAT32) + MSR + "Windows" NTFS volume.
#
#   images/build-test-machine.sh --out DISK.img --loader FILE.efi --stub FILE.efi
#                                [--conf FILE] [--bcd FILE] [--direct]
#                                [--manifest FILE] [--size MiB]
#                                [--ntfs-base FILE[.xz]] [--crash-log BACK]
#
#   --loader   unloop.efi: \EFI\BOOT\BOOTX64.EFI and \EFI\unloop\unloop.efi
#   --stub     the stand-in Windows Boot Manager: \EFI\Microsoft\Boot\bootmgfw.efi
#   --conf     \EFI\unloop\unloop.conf
#   --bcd      \EFI\Microsoft\Boot\BCD (e.g. a store from shared/testdata/bcd)
#   --direct   boot the stub directly: \EFI\BOOT\BOOTX64.EFI is the stub, and
#              no unloop file goes on the ESP (--loader and --conf are ignored)
#   --manifest NTFS content (default: images/test-machine.manifest)
#   --size     disk size in MiB (default 256: ESP 100, MSR 16, NTFS the rest)
#   --ntfs-base  start from this NTFS volume (e.g. a partition Windows
#              formatted, tests/data/ntfs-samples/) instead of mkntfs; it must
#              fit the partition; the manifest is added to it
#   --crash-log  then leave its $LogFile as Windows leaves it when it dies with
#              the volume mounted (build/images/ntfs-crash-log; BACK moves the
#              replay start back by that many LSN units, 0 for as-is)
#
# Writes DISK.img and DISK.img.layout (esp_offset=, esp_size=, ntfs_offset=,
# ntfs_size=, disk_size=, in bytes).  Needs no root.  Quiet unless something
# fails.  Tools: build/images/{mkgpt,ntfs-populate} (override the directory
# with IMAGE_TOOLS_DIR), mkfs.fat, mtools, mkntfs.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
tools=${IMAGE_TOOLS_DIR:-$top/build/images}

die() { echo "$prog: $*" >&2; exit 1; }
usage() {
	sed -n '7,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# Run a command silently; show its output only if it fails.
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

out="" loader="" stub="" conf="" bcd="" direct=0 ntfs_base="" crash_back=""
manifest=$here/test-machine.manifest
size_mib=256
while [ $# -gt 0 ]; do
	case "$1" in
	--out|--loader|--stub|--conf|--bcd|--manifest|--size|--ntfs-base|--crash-log)
		[ $# -ge 2 ] || die "$1 needs an argument"
		case "$1" in
		--out) out=$2 ;;
		--loader) loader=$2 ;;
		--stub) stub=$2 ;;
		--conf) conf=$2 ;;
		--bcd) bcd=$2 ;;
		--manifest) manifest=$2 ;;
		--size) size_mib=$2 ;;
		--ntfs-base) ntfs_base=$2 ;;
		--crash-log) crash_back=$2 ;;
		esac
		shift 2 ;;
	--direct) direct=1; shift ;;
	-h|--help) usage ;;
	*) echo "$prog: unknown argument '$1'" >&2; usage ;;
	esac
done

[ -n "$out" ] || die "--out is required"
[ -n "$stub" ] || die "--stub is required"
[ "$direct" = 1 ] || [ -n "$loader" ] || die "--loader is required (or --direct)"
if ! [[ "$size_mib" =~ ^[0-9]+$ ]] || [ "$size_mib" -lt 160 ]; then
	die "--size: want a number of MiB >= 160, got '$size_mib'"
fi

need_file() {
	if [ ! -f "$2" ] || [ ! -r "$2" ]; then
		die "$1: '$2' is not a readable file"
	fi
}
need_file --stub "$stub"
if [ "$direct" = 0 ]; then
	need_file --loader "$loader"
	[ -z "$conf" ] || need_file --conf "$conf"
fi
[ -z "$bcd" ] || need_file --bcd "$bcd"
need_file --manifest "$manifest"
[ -z "$ntfs_base" ] || need_file --ntfs-base "$ntfs_base"
[ -z "$crash_back" ] || [ -x "$tools/ntfs-crash-log" ] ||
	die "$tools/ntfs-crash-log is missing: run 'make build/images/ntfs-crash-log' first"
for t in mkgpt ntfs-populate; do
	[ -x "$tools/$t" ] || die "$tools/$t is missing: run 'make build/images/$t' first"
done
for t in mkfs.fat mmd mcopy mkntfs; do
	command -v "$t" >/dev/null || die "$t not found (Debian: dosfstools, mtools, ntfs-3g)"
done
if [ -e "$out" ] && [ ! -f "$out" ]; then
	die "$out exists and is not a regular file; refusing to touch it"
fi

# Work files next to the output (same file system: sparse, renamed at the end).
outdir=$(dirname "$out")
[ -d "$outdir" ] || die "directory '$outdir' does not exist"
work=$(mktemp -d "$outdir/.${out##*/}.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
disk=$work/disk.img esp=$work/esp.img ntfs=$work/ntfs.img

# --- partition table -------------------------------------------------------
truncate -s "${size_mib}M" "$disk"
layout=$("$tools/mkgpt" "$disk" esp:100 msr:16 basic:rest) ||
	die "mkgpt failed on $disk"

esp_start="" esp_sectors="" ntfs_start="" ntfs_sectors=""
while read -r _ start sectors type; do
	case "$type" in
	esp) esp_start=$start esp_sectors=$sectors ;;
	basic) ntfs_start=$start ntfs_sectors=$sectors ;;
	esac
done <<<"$layout"
if [ -z "$esp_start" ] || [ -z "$ntfs_start" ]; then
	die "unexpected mkgpt output: $layout"
fi

# --- ESP ---------------------------------------------------------------------
# -h: hidden sectors = partition start, as Windows formats it.
truncate -s $((esp_sectors * 512)) "$esp"
quiet mkfs.fat -F 32 -n ESP -S 512 -h "$esp_start" "$esp"
export MTOOLS_SKIP_CHECK=1
quiet mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/Microsoft ::/EFI/Microsoft/Boot
if [ "$direct" = 1 ]; then
	quiet mcopy -i "$esp" "$stub" ::/EFI/BOOT/BOOTX64.EFI
else
	quiet mmd -i "$esp" ::/EFI/unloop
	quiet mcopy -i "$esp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
	quiet mcopy -i "$esp" "$loader" ::/EFI/unloop/unloop.efi
	[ -z "$conf" ] || quiet mcopy -i "$esp" "$conf" ::/EFI/unloop/unloop.conf
fi
quiet mcopy -i "$esp" "$stub" ::/EFI/Microsoft/Boot/bootmgfw.efi
[ -z "$bcd" ] || quiet mcopy -i "$esp" "$bcd" ::/EFI/Microsoft/Boot/BCD

# --- Windows volume ----------------------------------------------------------
# -p: hidden sectors = partition start; -H/-S: the geometry Windows writes
# (without them mkntfs warns that the volume is not bootable).
if [ -n "$ntfs_base" ]; then
	case "$ntfs_base" in
	*.xz) xz -dc "$ntfs_base" >"$ntfs" || die "cannot decompress $ntfs_base" ;;
	*) cp --sparse=always "$ntfs_base" "$ntfs" ;;
	esac
	[ "$(stat -c %s "$ntfs")" -le $((ntfs_sectors * 512)) ] ||
		die "--ntfs-base: $ntfs_base is larger than the NTFS partition (raise --size)"
else
	truncate -s $((ntfs_sectors * 512)) "$ntfs"
	quiet mkntfs -F -Q -q -L Windows -s 512 -p "$ntfs_start" -H 255 -S 63 "$ntfs"
fi
quiet "$tools/ntfs-populate" "$ntfs" "$manifest"
[ -z "$crash_back" ] || quiet "$tools/ntfs-crash-log" "$ntfs" "$crash_back"

# --- assemble ----------------------------------------------------------------
place() {
	quiet dd if="$1" of="$disk" bs=1M seek=$(($2 * 512)) oflag=seek_bytes \
		conv=notrunc,sparse status=none
}
place "$esp" "$esp_start"
place "$ntfs" "$ntfs_start"

cat >"$work/layout" <<EOF
esp_offset=$((esp_start * 512))
esp_size=$((esp_sectors * 512))
ntfs_offset=$((ntfs_start * 512))
ntfs_size=$((ntfs_sectors * 512))
disk_size=$((size_mib * 1024 * 1024))
EOF
mv -f "$disk" "$out"
mv -f "$work/layout" "$out.layout"
