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
#                                [--bitlocker RP [--bitlocker-method M]
#                                 [--bitlocker-password PW] [--bitlocker-bek-dir DIR]]
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
#   --bitlocker  then encrypt the NTFS partition in place with BitLocker
#              (build/images/bitlocker-encrypt), recovery password RP; the NTFS
#              volume is made 1 MiB shorter than its partition to leave room
#              for the BitLocker metadata (with --ntfs-base, the base must
#              leave that room: raise --size)
#   --bitlocker-method  aes-xts-128 (default), aes-xts-256, aes-cbc-128,
#              aes-cbc-256
#   --bitlocker-password  also a user password protector
#   --bitlocker-bek-dir  also a startup key protector; its {GUID}.BEK goes to DIR
#
# Writes DISK.img and DISK.img.layout (esp_offset=, esp_size=, ntfs_offset=,
# ntfs_size=, disk_size=, in bytes; bitlocker=1 with --bitlocker).  Needs no root.  Quiet unless something
# fails.  Tools: build/images/{mkgpt,ntfs-populate,bitlocker-encrypt} (override the directory
# with IMAGE_TOOLS_DIR), mkfs.fat, mtools, mkntfs.
set -euo pipefail

usage_lines=7,37
# shellcheck source=images/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="" loader="" stub="" conf="" bcd="" direct=0 ntfs_base="" crash_back=""
bl_rp="" bl_method="" bl_password="" bl_bek_dir=""
manifest=$here/test-machine.manifest
size_mib=256
while [ $# -gt 0 ]; do
	case "$1" in
	--out|--loader|--stub|--conf|--bcd|--manifest|--size|--ntfs-base|--crash-log|\
	--bitlocker|--bitlocker-method|--bitlocker-password|--bitlocker-bek-dir)
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
		--bitlocker) bl_rp=$2 ;;
		--bitlocker-method) bl_method=$2 ;;
		--bitlocker-password) bl_password=$2 ;;
		--bitlocker-bek-dir) bl_bek_dir=$2 ;;
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
if [ -z "$bl_rp" ] && [ -n "$bl_method$bl_password$bl_bek_dir" ]; then
	die "--bitlocker-method, --bitlocker-password and --bitlocker-bek-dir need --bitlocker"
fi
[ -z "$bl_bek_dir" ] || [ -d "$bl_bek_dir" ] || die "--bitlocker-bek-dir: '$bl_bek_dir' is not a directory"
[ -z "$bl_rp" ] || [ -x "$tools/bitlocker-encrypt" ] ||
	die "$tools/bitlocker-encrypt is missing: run 'make build/images/bitlocker-encrypt' first"
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
# With --bitlocker the NTFS volume ends 1 MiB (2048 sectors) before its
# partition: bitlocker-encrypt keeps its metadata and the relocated boot
# sectors in that tail (Windows keeps them in NTFS files instead).
ntfs_len=$ntfs_sectors
[ -z "$bl_rp" ] || ntfs_len=$((ntfs_sectors - 2048))
if [ -n "$ntfs_base" ]; then
	case "$ntfs_base" in
	*.xz) xz -dc "$ntfs_base" >"$ntfs" || die "cannot decompress $ntfs_base" ;;
	*) cp --sparse=always "$ntfs_base" "$ntfs" ;;
	esac
	[ "$(stat -c %s "$ntfs")" -le $((ntfs_sectors * 512)) ] ||
		die "--ntfs-base: $ntfs_base is larger than the NTFS partition (raise --size)"
	if [ -n "$bl_rp" ]; then
		# The NTFS volume (its boot sector's sector count, plus the backup
		# boot sector), rounded up to 64 KiB, then 256 KiB for BitLocker.
		base_sectors=$(od -An -tu8 -j40 -N8 "$ntfs" | tr -d ' ')
		[[ "$base_sectors" =~ ^[0-9]+$ ]] || die "--ntfs-base: $ntfs_base has no NTFS boot sector"
		need=$(( ((base_sectors + 1) * 512 + 65535) / 65536 * 65536 + 262144 ))
		[ "$need" -le $((ntfs_sectors * 512)) ] ||
			die "--bitlocker: the --ntfs-base volume leaves no room for the BitLocker metadata in its partition (needs $need bytes, the partition has $((ntfs_sectors * 512)); raise --size)"
		truncate -s $((ntfs_sectors * 512)) "$ntfs"
	fi
else
	truncate -s $((ntfs_sectors * 512)) "$ntfs"
	quiet mkntfs -F -Q -q -L Windows -s 512 -p "$ntfs_start" -H 255 -S 63 "$ntfs" "$ntfs_len"
fi
quiet "$tools/ntfs-populate" "$ntfs" "$manifest"
[ -z "$crash_back" ] || quiet "$tools/ntfs-crash-log" "$ntfs" "$crash_back"
if [ -n "$bl_rp" ]; then
	bl_args=(--quiet --recovery-password "$bl_rp")
	[ -z "$bl_method" ] || bl_args+=(--method "$bl_method")
	[ -z "$bl_password" ] || bl_args+=(--password "$bl_password")
	[ -z "$bl_bek_dir" ] || bl_args+=(--bek-dir "$bl_bek_dir")
	quiet "$tools/bitlocker-encrypt" "${bl_args[@]}" "$ntfs"
fi

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
[ -z "$bl_rp" ] || echo "bitlocker=1" >>"$work/layout"
mv -f "$disk" "$out"
mv -f "$work/layout" "$out.layout"
