# SPDX-License-Identifier: GPL-2.0-or-later
# images/lib.sh - what the image builders share; sourced, never run.
#
# The sourcing script sets usage_lines (the sed range of its own header that
# --help prints) first.  Gives: prog, here (images/), top (the tree), tools
# (build/images, or IMAGE_TOOLS_DIR), die, usage, quiet, need_file.

ul_script=${BASH_SOURCE[1]}
prog=${ul_script##*/}
here=$(cd "$(dirname "$ul_script")" && pwd)
top=$(dirname "$here")
tools=${IMAGE_TOOLS_DIR:-$top/build/images}

die() { echo "$prog: $*" >&2; exit 1; }

usage() {
	sed -n "${usage_lines}p" "$ul_script" | sed 's/^# \{0,1\}//' >&2
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

# need_file OPTION PATH: PATH must be a readable file.
need_file() {
	if [ ! -f "$2" ] || [ ! -r "$2" ]; then
		die "$1: '$2' is not a readable file"
	fi
}
