#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# images/build-linux-guest.sh - a small Linux for the real-OS test
# (tests/qemu/test_linux.py): Debian's own kernel (an EFI stub) and an
# initramfs that mounts the ESP and runs the build's `unloop bless`.
#
#   images/build-linux-guest.sh [--out DIR] [--cli FILE] [--efi FILE]
#
#   --out  where everything goes (default build/linux-guest); the kernel
#          package is downloaded once into it and reused (a cache)
#   --cli  the unloop CLI to put in the initramfs (default build/unloop)
#   --efi  unloop.efi, put where an installed system has it,
#          /usr/lib/unloop/unloop.efi (`unloop install`'s default; default
#          build/unloop.efi)
#
# Writes DIR/vmlinuz.efi (the kernel, an EFI application) and
# DIR/initrd.img (cpio newc, gzip).  The kernel is the package that
# Debian's linux-image-amd64 depends on (apt-get download, no root needed
# beyond what apt wants; with no apt lists, a .deb already in DIR is used).
#
# The initramfs /init: mounts proc, sysfs, devtmpfs; loads virtio_pci,
# virtio_blk, vfat, nls_cp437, nls_ascii, efivarfs and their dependencies
# (modules.dep, made by depmod here); mounts efivarfs and the ESP (the
# first partition of /dev/vda) on /esp; runs `unloop bless --esp /esp`
# between GUEST-BLESS-BEGIN and GUEST-BLESS-END lines on the serial
# console; then runs /esp/EFI/Linux/test.sh if there is one (the test's
# script for this boot), unmounts the ESP and powers off.
# Tools: apt-get, dpkg-deb, depmod (kmod), cpio, gzip, busybox-static, ldd.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
out=$top/build/linux-guest
cli=$top/build/unloop
efi=$top/build/unloop.efi

die() { echo "$prog: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
	--cli) [ $# -ge 2 ] || die "--cli needs a file"; cli=$2; shift 2 ;;
	--efi) [ $# -ge 2 ] || die "--efi needs a file"; efi=$2; shift 2 ;;
	-h|--help) sed -n '7,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
[ -x "$cli" ] || die "$cli is missing: run 'make' first"
[ -f "$efi" ] || die "$efi is missing: run 'make' first"
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	die "$busybox is not the static busybox: install busybox-static"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 1. The kernel package: the one linux-image-amd64 depends on, cached.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1 || true
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ] && ! ls "$out"/linux-image-*-amd64_*_amd64.deb >/dev/null 2>&1 &&
	[ "$(id -u)" = 0 ]; then
	apt-get update -qq >/dev/null 2>&1 || true   # a fresh machine with no apt lists
	pkg=$(kernel_pkg)
fi
deb=""
if [ -n "$pkg" ]; then
	deb=$(ls "$out"/"${pkg}"_*_amd64.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		echo "$prog: downloading $pkg (once; cached in $out)" >&2
		(cd "$out" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed"
		deb=$(ls "$out"/"${pkg}"_*_amd64.deb | head -1)
	fi
else
	deb=$(ls "$out"/linux-image-*-amd64_*_amd64.deb 2>/dev/null | head -1 || true)
	[ -n "$deb" ] || die "no linux-image-amd64 in apt's lists (apt-get update) and none cached in $out"
fi
stamp=$out/root/.extracted-$(basename "$deb")
if [ ! -e "$stamp" ]; then
	rm -rf "$out/root"
	mkdir -p "$out/root"
	# Only what the guest needs: the kernel, its config, and the module
	# folders that hold the wanted modules and their dependencies.
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out/root" --wildcards \
		'./boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.*' \
		'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*' \
		'./lib/modules/*/kernel/fs/fat/*' './lib/modules/*/kernel/fs/nls/*' \
		'./lib/modules/*/kernel/fs/efivarfs/*'
	touch "$stamp"
fi
kver=$(ls "$out/root/lib/modules" | head -1)
[ -n "$kver" ] || die "no modules in $deb"
mods=$out/root/lib/modules/$kver
[ -s "$mods/modules.dep" ] || depmod -b "$out/root" "$kver"
cp "$out/root/boot/vmlinuz-$kver" "$out/vmlinuz.efi"

# 2. Modules in load order: each one's dependencies (modules.dep lists
# them nearest first, so load them last to first), then itself.
config=$out/root/boot/config-$kver
want=""
for m in virtio_pci virtio_blk vfat nls_cp437 nls_ascii efivarfs; do
	sym=$(echo "$m" | tr a-z A-Z)
	case $m in
	nls_cp437) sym=NLS_CODEPAGE_437 ;;
	virtio_pci) sym=VIRTIO_PCI ;; virtio_blk) sym=VIRTIO_BLK ;;
	vfat) sym=VFAT_FS ;; efivarfs) sym=EFIVAR_FS ;;
	esac
	grep -q "^CONFIG_$sym=y" "$config" && continue   # built in
	want="$want $m"
done
order=()
add_module() {
	local name=$1 line path deps d i
	line=$(grep -E "(^|/)${name//_/[_-]}\.ko(\.[a-z]+)?:" "$mods/modules.dep" | head -1) ||
		die "module $name is not in $kver"
	path=${line%%:*}
	for i in "${order[@]+"${order[@]}"}"; do [ "$i" = "$path" ] && return 0; done
	deps=(${line#*:})
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		d=${deps[$i]##*/}; d=${d%%.ko*}
		add_module "$d"
	done
	order+=("$path")
}
for m in $want; do add_module "$m"; done

# 3. The initramfs tree.
ird=$out/initramfs
rm -rf "$ird"
mkdir -p "$ird"/{bin,dev,proc,sys,esp,tmp,lib/modules,etc}
cp "$busybox" "$ird/bin/busybox"
cp "$cli" "$ird/bin/unloop"
mkdir -p "$ird/usr/lib/unloop"
cp "$efi" "$ird/usr/lib/unloop/unloop.efi"
# The CLI's shared libraries and the dynamic loader, at their own paths.
ldd "$cli" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
	mkdir -p "$ird$(dirname "$lib")"
	cp -L "$lib" "$ird$lib"
done
: >"$ird/modules.order"
for p in "${order[@]}"; do
	case $p in
	*.ko) cp "$mods/$p" "$ird/lib/modules/" ;;
	*.ko.xz) xz -dc "$mods/$p" >"$ird/lib/modules/$(basename "${p%.xz}")" ;;
	*.ko.zst) zstd -qdc "$mods/$p" >"$ird/lib/modules/$(basename "${p%.zst}")" ;;
	*) die "unexpected module file $p" ;;
	esac
	b=$(basename "$p"); echo "${b%.ko*}.ko" >>"$ird/modules.order"
done

cat >"$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do
	insmod /lib/modules/$m || echo "GUEST: insmod $m failed"
done
mount -t efivarfs efivarfs /sys/firmware/efi/efivars || echo "GUEST: no efivarfs"
i=0
while [ ! -b /dev/vda1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if mount -t vfat /dev/vda1 /esp; then
	echo "GUEST-BLESS-BEGIN"
	unloop bless --esp /esp
	echo "GUEST-BLESS-END rc=$?"
	[ -f /esp/EFI/Linux/test.sh ] && sh /esp/EFI/Linux/test.sh
	umount /esp
else
	echo "GUEST: cannot mount the ESP"
fi
sync
echo "GUEST-DONE"
poweroff -f
EOF
chmod 755 "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9n) >"$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "kernel=$kver modules=${order[*]##*/}" >"$out/guest.info"
