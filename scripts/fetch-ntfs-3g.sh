#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# scripts/fetch-ntfs-3g.sh - fetch Debian's ntfs-3g source package for the
# UEFI build of libntfs-3g (DESIGN.md §1, "Volume stack for NTFS").
#
# Downloads exactly NTFS3G_DEB_VERSION with `apt-get source` (apt checks the
# files against the signed Release/Sources chain), checks them again against
# the SHA-256 sums pinned below, and unpacks them with `dpkg-source -x` so
# Debian's patches (security fixes) are applied:
#
#     build/src/ntfs-3g-<upstream version>/      (never committed)
#
# Idempotent and non-interactive (CI runs it as root); prints nothing when
# the tree is already there.  Needs: apt, dpkg-dev (dpkg-source).
set -euo pipefail

# Pinned: the version bookworm's deb-src offers (security fixes up to
# deb12u3 folded into the point release).  bookworm-security's deb12u4 (more
# libntfs-3g CVE fixes; what the CLI's libntfs-3g89 is) has sums
#   82894dcb9fa73b85f3c7b4ffef2f9cc54f963fefc29865e9b6d0656d63a99eaf .dsc
#   9036c3b839bcf37853a043f4e4e315f8481a9f7ff21ee258720baf6b3b5de5b7 .debian.tar.xz
# but its files were not downloadable from the mirror when this was pinned.
NTFS3G_DEB_VERSION="1:2022.10.3-1+deb12u3"
NTFS3G_UPSTREAM="2022.10.3"
# sha256 of every file of the source package (from the .dsc, checked here).
SUMS="
1fda9b59fbe05abc021a6f1fc8cbf429c297571adfb88fbdb55cf018b8b44ce5  ntfs-3g_2022.10.3-1+deb12u3.dsc
8bd7749ea9d8534c9f0664d48b576e90b96d45ec8803c9427f6ffaa2f0dde299  ntfs-3g_2022.10.3.orig.tar.gz
458cbea82c6201583ac5eb692a0a3e06af3dfa0671caa385a26535f2dadf946b  ntfs-3g_2022.10.3-1+deb12u3.debian.tar.xz
"

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$top/build}
src=$build/src
dest=$src/ntfs-3g-$NTFS3G_UPSTREAM
dl=$src/ntfs-3g-download
stamp=$dest/.unloop-unpacked-${NTFS3G_DEB_VERSION#*:}

die() { echo "$prog: $*" >&2; exit 1; }
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

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
	apt-cache showsrc ntfs-3g 2>/dev/null | grep -qx "Version: $NTFS3G_DEB_VERSION"
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
			echo "# Added by unloop scripts/fetch-ntfs-3g.sh: Debian sources for the UEFI build."
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
	offered || die "apt offers no ntfs-3g $NTFS3G_DEB_VERSION source (superseded?" \
		"then update the pin and the sums in $0)"
fi

mkdir -p "$dl"
cd "$dl"
# apt-get verifies each file against the signed Sources index.
quiet apt-get source -qq --download-only -o APT::Sandbox::User=root "ntfs-3g=$NTFS3G_DEB_VERSION"
echo "$SUMS" | sed '/^$/d' | sha256sum --quiet --strict -c - >/dev/null 2>&1 ||
	{ echo "$SUMS" | sed '/^$/d' | sha256sum --strict -c - >&2 || true; die "checksum mismatch"; }

rm -rf "$dest" "$dest.tmp"
quiet dpkg-source -x "ntfs-3g_${NTFS3G_DEB_VERSION#*:}.dsc" "$dest.tmp"
mv "$dest.tmp" "$dest"
# dpkg-source leaves a copy of the orig tarball next to the tree.
rm -f "$src/ntfs-3g_$NTFS3G_UPSTREAM.orig.tar.gz"
touch "$stamp"
