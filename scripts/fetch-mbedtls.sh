#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# scripts/fetch-mbedtls.sh - fetch Debian's mbedtls source package for the
# UEFI build of the BitLocker crypto (DESIGN.md §7, "mbedTLS in the UEFI
# build"; efi/mbedtls.mk compiles the few files it needs).
#
# Downloads exactly MBEDTLS_DEB_VERSION with `apt-get source` (apt checks the
# files against the signed Release/Sources chain), checks them again against
# the SHA-256 sums pinned below, and unpacks them with `dpkg-source -x` so
# Debian's patches are applied:
#
#     build/src/mbedtls-<upstream version>/      (never committed)
#
# Idempotent and non-interactive (CI runs it as root); prints nothing when
# the tree is already there.  Needs: apt, dpkg-dev (dpkg-source).
# Modelled on scripts/fetch-ntfs-3g.sh (same deb-src handling).
set -euo pipefail

# Pinned: the version bookworm ships (libmbedtls-dev 2.28.3-1, which the CLI
# links), so the CLI and unloop.efi run the same mbedTLS.
MBEDTLS_DEB_VERSION="2.28.3-1"
MBEDTLS_UPSTREAM="2.28.3"
# sha256 of every file of the source package (from the .dsc, checked here).
SUMS="
a8bf91b5ffb40654efb0ebe0c962ac1e87b8eed5e104880982eaa70dd4bb33e3  mbedtls_2.28.3-1.dsc
3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d  mbedtls_2.28.3.orig.tar.gz
3e03c61f63c7bbcd0bf695b53e6663ab448cc2e15429cd67d0e4f32e699645a9  mbedtls_2.28.3-1.debian.tar.xz
"

prog=${0##*/}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$top/build}
src=$build/src
dest=$src/mbedtls-$MBEDTLS_UPSTREAM
dl=$src/mbedtls-download
stamp=$dest/.unloop-unpacked-$MBEDTLS_DEB_VERSION

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
	apt-cache showsrc mbedtls 2>/dev/null | grep -qx "Version: $MBEDTLS_DEB_VERSION"
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
			echo "# Added by unloop scripts/fetch-mbedtls.sh: Debian sources for the UEFI build."
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
	offered || die "apt offers no mbedtls $MBEDTLS_DEB_VERSION source (superseded?" \
		"then update the pin and the sums in $0)"
fi

mkdir -p "$dl"
cd "$dl"
# apt-get verifies each file against the signed Sources index.
quiet apt-get source -qq --download-only -o APT::Sandbox::User=root "mbedtls=$MBEDTLS_DEB_VERSION"
echo "$SUMS" | sed '/^$/d' | sha256sum --quiet --strict -c - >/dev/null 2>&1 ||
	{ echo "$SUMS" | sed '/^$/d' | sha256sum --strict -c - >&2 || true; die "checksum mismatch"; }

rm -rf "$dest" "$dest.tmp"
quiet dpkg-source -x "mbedtls_$MBEDTLS_DEB_VERSION.dsc" "$dest.tmp"
mv "$dest.tmp" "$dest"
# dpkg-source leaves a copy of the orig tarball next to the tree.
rm -f "$src/mbedtls_$MBEDTLS_UPSTREAM.orig.tar.gz"
touch "$stamp"
