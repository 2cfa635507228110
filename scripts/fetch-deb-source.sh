#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# scripts/fetch-deb-source.sh - fetch a Debian source package that the UEFI
# build compiles (ntfs-3g: efi/ntfs.mk, shared/ntfs/replay.mk; mbedtls:
# efi/mbedtls.mk).  The pins live in those makefiles:
#
#     fetch-deb-source.sh PACKAGE VERSION SHA256_DSC SHA256_ORIG SHA256_DEBIAN
#
# VERSION is the full Debian version, with its epoch if it has one
# (1:2022.10.3-1+deb12u3); the sums are those of the .dsc, the orig tarball
# and the debian tarball.
#
# Downloads exactly VERSION with `apt-get source` (apt checks the files
# against the signed Release/Sources chain), checks them again against the
# pinned SHA-256 sums, and unpacks them with `dpkg-source -x` so Debian's
# patches (security fixes) are applied:
#
#     build/src/PACKAGE-<upstream version>/      (never committed)
#     build/src/PACKAGE-<upstream version>/.unloop-unpacked-<VERSION without epoch>
#
# Idempotent and non-interactive (CI runs it as root); prints nothing when
# the tree is already there.  Needs: apt, dpkg-dev (dpkg-source).
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: $*" >&2; exit 1; }
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

[ $# -eq 5 ] || die "usage: $prog PACKAGE VERSION SHA256_DSC SHA256_ORIG SHA256_DEBIAN"
pkg=$1 version=$2
sum_dsc=$3 sum_orig=$4 sum_debian=$5
for s in "$sum_dsc" "$sum_orig" "$sum_debian"; do
	[[ $s =~ ^[0-9a-f]{64}$ ]] || die "$pkg: not a SHA-256 sum: '$s'"
done
noepoch=${version#*:}            # file names and the stamp carry no epoch
upstream=${noepoch%-*}           # 2022.10.3-1+deb12u3 -> 2022.10.3
[ "$upstream" != "$noepoch" ] ||
	die "$pkg $version: no Debian revision (a native package has no orig tarball)"

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$top/build}
src=$build/src
dest=$src/$pkg-$upstream
dl=$src/$pkg-download
stamp=$dest/.unloop-unpacked-$noepoch
dsc=${pkg}_$noepoch.dsc

[ -e "$stamp" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

if ! command -v dpkg-source >/dev/null; then
	quiet $SUDO apt-get update -qq
	quiet $SUDO apt-get install -y -qq --no-install-recommends dpkg-dev
fi

# Is the pinned version offered as a source package?
offered() {
	apt-cache showsrc "$pkg" 2>/dev/null | grep -Fqx "Version: $version"
}

if ! offered; then
	# Add deb-src for the suites that no deb-src entry covers yet, in the
	# deb822 form of the system's own debian.sources.
	have=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb-src" { print $3 }' || true)
	have+=" "$(awk 'BEGIN { RS = ""; FS = "\n" }
		/(^|\n)Types:[^\n]*deb-src/ {
			for (i = 1; i <= NF; i++) if ($i ~ /^Suites:/) { sub(/^Suites:/, "", $i); print $i }
		}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	main_suites="" sec_suites=""
	for s in bookworm bookworm-updates; do
		case " $(echo $have) " in *" $s "*) ;; *) main_suites+=" $s" ;; esac
	done
	case " $(echo $have) " in *" bookworm-security "*) ;; *) sec_suites="bookworm-security" ;; esac
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	file=/etc/apt/sources.list.d/unloop-deb-src.sources
	if [ -n "$main_suites$sec_suites" ]; then
		{
			echo "# Added by unloop scripts/fetch-deb-source.sh: Debian sources for the UEFI build."
			if [ -n "$main_suites" ]; then
				printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites:%s\n' "$main_suites"
				printf 'Components: main\nSigned-By: %s\n' "$keyring"
			fi
			if [ -n "$sec_suites" ]; then
				[ -n "$main_suites" ] && echo
				printf 'Types: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: %s\n' "$sec_suites"
				printf 'Components: main\nSigned-By: %s\n' "$keyring"
			fi
		} | $SUDO tee -a "$file" >/dev/null
	fi
	quiet $SUDO apt-get update -qq
	offered || die "apt offers no $pkg $version source (superseded? then update the" \
		"pin and the sums in the makefile that calls $prog)"
fi

mkdir -p "$dl"
cd "$dl"
# apt-get verifies each file against the signed Sources index.
quiet apt-get source -qq --download-only -o APT::Sandbox::User=root "$pkg=$version"

# The pinned sums, against the .dsc first; the names of the two tarballs
# (whose compression varies by package) come from the .dsc so checked.
check() {
	printf '%s\n' "$1" | sha256sum --quiet --strict -c - >/dev/null 2>&1 ||
		{ printf '%s\n' "$1" | sha256sum --strict -c - >&2 || true; die "$pkg: checksum mismatch"; }
}
check "$sum_dsc  $dsc"
listed() {
	awk -v pat="$1" '/^Checksums-Sha256:/ { on = 1; next } on && !/^ / { on = 0 }
		on && $3 ~ pat { print $3 }' "$dsc"
}
orig=$(listed '\.orig\.tar\.[a-z0-9]+$')
debian=$(listed '\.debian\.tar\.[a-z0-9]+$')
one() { [ "$(printf '%s\n' "$1" | grep -c .)" -eq 1 ]; }
if ! one "$orig" || ! one "$debian"; then
	die "$pkg: $dsc does not list one orig and one debian tarball"
fi
check "$sum_orig  $orig
$sum_debian  $debian"

rm -rf "$dest" "$dest.tmp"
quiet dpkg-source -x "$dsc" "$dest.tmp"
mv "$dest.tmp" "$dest"
# dpkg-source leaves a copy of the orig tarball next to the tree.
rm -f "$src/$orig"
touch "$stamp"
