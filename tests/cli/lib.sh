# SPDX-License-Identifier: GPL-2.0-or-later
# What the shell suites share; sourced from tests/cli/*.sh after `set -u`.
# Gives: the tree as the working directory, U (the CLI), T (a scratch folder
# removed on exit), ok NAME, no NAME [DETAIL], and summary PREFIX (prints
# 'PREFIX: N passed, N failed' and returns non-zero if anything failed).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
U=$PWD/build/unloop
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok() { echo "ok   - $1"; pass=$((pass + 1)); }
no() { echo "FAIL - $1"; [ -n "${2:-}" ] && echo "       $2"; fail=$((fail + 1)); }
summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
