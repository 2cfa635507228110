#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/images/check-test-machine.sh DISK.img
#
# Check a disk image made by images/build-test-machine.sh the way a user
# would, with independent tools: sfdisk for the GPT, mtools and fsck.fat for
# the ESP, ntfs-3g's ntfsls/ntfsinfo/ntfscat/ntfsfix for the Windows volume.
# Works without root.  Last line: "N passed, N failed"; exit 1 on a failure.
#
# SC2016: sed scripts below match a literal "$" in ntfsinfo's output.
# shellcheck disable=SC2016
set -euo pipefail

prog=${0##*/}
[ $# -eq 1 ] || { echo "Usage: $prog DISK.img" >&2; exit 2; }
img=$1
[ -f "$img" ] || { echo "$prog: $img: no such file" >&2; exit 2; }

export TZ=UTC LC_ALL=C MTOOLS_SKIP_CHECK=1

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
# check DESCRIPTION COMMAND...: pass if the command succeeds
check() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else fail "$desc"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ESP_GUID=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
MSR_GUID=E3C9E316-0B5C-4DB8-817D-F92DF00215AE
BASIC_GUID=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7

# --- GPT -----------------------------------------------------------------------
if sfdisk --dump "$img" >"$tmp/dump" 2>"$tmp/dump.err"; then
	ok "sfdisk reads the partition table"
else
	fail "sfdisk reads the partition table: $(cat "$tmp/dump.err")"
	finish
fi
check "label is GPT" grep -qx 'label: gpt' "$tmp/dump"
check "sfdisk --verify finds no problem" sfdisk --verify "$img"

# "DISK.img1 : start=  2048, size=  204800, type=GUID, uuid=..., name="..."
parts=$(sed -n 's/^.*[0-9] : start= *\([0-9]*\), size= *\([0-9]*\), type=\([0-9A-Fa-f-]*\),.*$/\1 \2 \3/p' "$tmp/dump")
nparts=$(printf '%s\n' "$parts" | grep -c . || true)
if [ "$nparts" -eq 3 ]; then ok "3 partitions"; else fail "3 partitions (found $nparts)"; fi

part() { printf '%s\n' "$parts" | sed -n "${1}p"; }
i=1
for want in "$ESP_GUID:EFI system partition" "$MSR_GUID:Microsoft reserved partition" \
	    "$BASIC_GUID:Basic data partition"; do
	read -r start size type <<<"$(part $i)" || true
	guid=${want%%:*} name=${want#*:}
	if [ "${type^^}" = "$guid" ]; then
		ok "partition $i type $guid"
	else
		fail "partition $i type $guid (found '${type:-none}')"
	fi
	check "partition $i name \"$name\"" grep -q "$i : start=.*name=\"$name\"" "$tmp/dump"
	if [ -n "${start:-}" ] && [ $((start % 2048)) -eq 0 ] && [ $((size % 2048)) -eq 0 ]; then
		ok "partition $i is 1 MiB aligned"
	else
		fail "partition $i is 1 MiB aligned (start ${start:-?}, size ${size:-?})"
	fi
	i=$((i + 1))
done

read -r esp_start esp_sectors _ <<<"$(part 1)" || true
read -r ntfs_start ntfs_sectors _ <<<"$(part 3)" || true
esp_off=$((${esp_start:-0} * 512))
ntfs_off=$((${ntfs_start:-0} * 512))
if [ "$esp_off" -eq 0 ] || [ "$ntfs_off" -eq 0 ]; then
	finish
fi

# The layout file must agree with the partition table.
if [ -f "$img.layout" ]; then
	want="esp_offset=$esp_off
esp_size=$((esp_sectors * 512))
ntfs_offset=$ntfs_off
ntfs_size=$((ntfs_sectors * 512))"
	if [ "$(grep -E '^(esp|ntfs)_(offset|size)=' "$img.layout")" = "$want" ]; then
		ok "$img.layout matches the partition table"
	else
		fail "$img.layout matches the partition table"
	fi
else
	fail "$img.layout exists"
fi

# --- ESP -----------------------------------------------------------------------
esp="$img@@$esp_off"
if mdir -b -i "$esp" ::/EFI/BOOT >"$tmp/boot" 2>&1 && grep -qi '/BOOTX64.EFI$' "$tmp/boot"; then
	ok "mdir ::/EFI/BOOT lists BOOTX64.EFI"
else
	fail "mdir ::/EFI/BOOT lists BOOTX64.EFI: $(tr '\n' ' ' <"$tmp/boot")"
fi
check "ESP has \\EFI\\Microsoft\\Boot\\bootmgfw.efi" \
	mcopy -n -i "$esp" ::/EFI/Microsoft/Boot/bootmgfw.efi "$tmp/bootmgfw.efi"
check "ESP label is ESP" bash -c "mlabel -s -i '$esp' :: | grep -q 'is ESP'"
mcopy -n -i "$esp" ::/EFI/BOOT/BOOTX64.EFI "$tmp/bootx64.efi" 2>/dev/null || true
if mcopy -n -i "$esp" ::/EFI/unloop/unloop.efi "$tmp/unloop.efi" 2>/dev/null; then
	check "unloop mode: BOOTX64.EFI is \\EFI\\unloop\\unloop.efi" \
		cmp -s "$tmp/bootx64.efi" "$tmp/unloop.efi"
else
	check "direct mode: BOOTX64.EFI is bootmgfw.efi" \
		cmp -s "$tmp/bootx64.efi" "$tmp/bootmgfw.efi"
fi
dd if="$img" of="$tmp/esp.img" bs=1M skip=$((esp_off)) count=$((esp_sectors * 512)) \
	iflag=skip_bytes,count_bytes conv=sparse status=none
check "fsck.fat -n finds the ESP clean" fsck.fat -n "$tmp/esp.img"
rm -f "$tmp/esp.img"

# --- Windows volume --------------------------------------------------------------
# ntfs-3g tools take no offset: extract the partition (sparse, so it is quick).
ntfs=$tmp/ntfs.img
dd if="$img" of="$ntfs" bs=1M skip=$((ntfs_off)) count=$((ntfs_sectors * 512)) \
	iflag=skip_bytes,count_bytes conv=sparse status=none

if ntfsfix -n "$ntfs" >"$tmp/fix" 2>&1 && grep -q 'processed successfully' "$tmp/fix"; then
	ok "ntfsfix -n finds the volume consistent"
else
	fail "ntfsfix -n finds the volume consistent: $(tr '\n' ' ' <"$tmp/fix")"
fi
check "NTFS label is Windows" bash -c "ntfsinfo -m '$ntfs' | grep -q 'Volume Name: Windows'"
check "hidden sectors = partition start" bash -c \
	"ntfsinfo -m '$ntfs' >/dev/null && [ \"\$(od -An -tu4 -j28 -N4 '$ntfs' | tr -d ' ')\" = '$ntfs_start' ]"

cs=/Windows/System32/drivers/CrowdStrike
if ntfsls -p "$cs" "$ntfs" >"$tmp/ls" 2>&1; then
	ok "ntfsls lists \\Windows\\System32\\drivers\\CrowdStrike"
	for f in C-00000291-00000000-00000032.sys C-00000291-00000000-00000031.sys \
		 C-00000290-00000000-00000005.sys C-00000285-00000000-00000007.sys CSAgent.sys; do
		check "CrowdStrike\\$f exists" grep -qx "$f" "$tmp/ls"
	done
else
	fail "ntfsls lists \\Windows\\System32\\drivers\\CrowdStrike: $(tr '\n' ' ' <"$tmp/ls")"
fi
for f in /Windows/System32/config/SYSTEM /Windows/System32/drivers/ntfs.sys \
	 /Windows/System32/drivers/disk.sys /Windows/System32/drivers/ExampleVendor/exv-defs.sys; do
	check "${f//\//\\} exists" ntfsinfo -F "$f" "$ntfs"
done

# The faulty channel file: size, all four $STANDARD_INFORMATION times, content.
bad=$cs/C-00000291-00000000-00000032.sys
want_time='Fri Jul 19 04:09:00 2024 UTC'
if ntfsinfo -F "$bad" "$ntfs" >"$tmp/info" 2>&1; then
	ok "ntfsinfo opens C-00000291-00000000-00000032.sys"
else
	fail "ntfsinfo opens C-00000291-00000000-00000032.sys: $(tr '\n' ' ' <"$tmp/info")"
fi
# $DATA comes last in the dump; its "Data size" is the file size.
size=$(sed -n '/^Dumping attribute \$DATA/,$ s/^[[:space:]]*Data size:[[:space:]]*\([0-9]*\).*/\1/p' "$tmp/info" | head -n1)
if [ "${size:-}" = 41984 ]; then ok "size is 41984"; else fail "size is 41984 (found '${size:-?}')"; fi
si=$(sed -n '/^Dumping attribute \$STANDARD_INFORMATION/,/^Dumping attribute/p' "$tmp/info")
for t in 'File Creation Time' 'File Altered Time' 'MFT Changed Time' 'Last Accessed Time'; do
	if grep -q "$t:[[:space:]]*$want_time" <<<"$si"; then
		ok "\$STANDARD_INFORMATION $t is 2024-07-19 04:09:00 UTC"
	else
		fail "\$STANDARD_INFORMATION $t is 2024-07-19 04:09:00 UTC ($(grep "$t" <<<"$si" | tr -s '\t ' ' '))"
	fi
done
fn=$(sed -n '/^Dumping attribute \$FILE_NAME/,/^Dumping attribute \$[^F]/p' "$tmp/info")
if [ "$(grep -c "Altered Time:[[:space:]]*$want_time" <<<"$fn")" -ge 1 ] &&
   ! grep 'Time:' <<<"$fn" | grep -vq "$want_time"; then
	ok "\$FILE_NAME times are 2024-07-19 04:09:00 UTC"
else
	fail "\$FILE_NAME times are 2024-07-19 04:09:00 UTC"
fi
check "\$DATA is not sparse" bash -c \
	"sed -n '/^Dumping attribute \\\$DATA/,\$p' '$tmp/info' | grep -q 'Attribute flags:[[:space:]]*0x0000'"
check "content is 41984 zero bytes" bash -c \
	"ntfscat '$ntfs' '$bad' | cmp -s - <(head -c 41984 /dev/zero)"
check "C-00000291-00000000-00000031.sys starts with AA AA AA AA" bash -c \
	"[ \"\$(ntfscat '$ntfs' '$cs/C-00000291-00000000-00000031.sys' | head -c 4 | od -An -tx1 | tr -d ' ')\" = aaaaaaaa ]"
if ntfsls -l -p "$cs" "$ntfs" 2>/dev/null | grep -q 'Jul 19 04:09 2024 C-00000291-00000000-00000032.sys$'; then
	ok "ntfsls -l shows 2024-07-19 04:09 for the faulty file"
else
	fail "ntfsls -l shows 2024-07-19 04:09 for the faulty file"
fi

finish
