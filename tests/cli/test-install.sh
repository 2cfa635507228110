#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# unloop install / uninstall on the host: usage errors and the refusals that
# need no UEFI machine.  What needs one (efivarfs, a FAT ESP on a GPT disk,
# the boot entries, --dry-run, power cuts, not root) is tested in a real
# Linux guest by tests/qemu/test_linux.py.  Prints 'install-cli: N passed,
# N failed'.
set -u
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
# expect NAME RC PATTERN CMD...: exit code RC and PATTERN in stderr+stdout
expect() {
    local name=$1 want=$2 pat=$3; shift 3
    "$@" >"$T/out" 2>&1; local rc=$?
    if [ "$rc" -ne "$want" ]; then
        no "$name: exit $rc, want $want" "$(head -3 "$T/out")"
    elif ! grep -q -- "$pat" "$T/out"; then
        no "$name: no '$pat' in the output" "$(head -3 "$T/out")"
    else
        ok "$name (exit $rc)"
    fi
}

mkdir -p "$T/esp/EFI"

expect "install --help" 0 "unloop install --esp DIR" "$U" install --help
expect "uninstall --help" 0 "unloop uninstall --esp DIR" "$U" uninstall --help
expect "unloop --help lists install" 0 "install --esp DIR" "$U" --help
expect "unloop --help lists uninstall" 0 "uninstall --esp DIR" "$U" --help
expect "install without --esp" 2 "needs --esp DIR" "$U" install
expect "uninstall without --esp" 2 "needs --esp DIR" "$U" uninstall
expect "install: unknown option" 2 "unknown option" "$U" install --esp "$T/esp" --bogus
expect "install: --conf without its FILE" 2 "missing argument" "$U" install --esp "$T/esp" --conf
expect "install: an extra argument" 2 "unexpected argument" "$U" install --esp "$T/esp" extra
expect "uninstall takes no --conf" 2 "only --esp and --dry-run" \
    "$U" uninstall --esp "$T/esp" --conf x
expect "uninstall takes no --force" 2 "only --esp and --dry-run" "$U" uninstall --esp "$T/esp" --force
expect "options before install: says to put the command first" 2 "put the command first" \
    "$U" --esp "$T/esp" install

if [ ! -e /sys/firmware/efi ]; then
    expect "install on a machine not booted with UEFI" 1 "not booted with UEFI" \
        "$U" install --esp "$T/esp" --dry-run
    expect "uninstall on a machine not booted with UEFI" 1 "not booted with UEFI" \
        "$U" uninstall --esp "$T/esp"
else
    expect "install on a directory that is not a FAT file system" 1 "not a FAT file system" \
        "$U" install --esp "$T/esp" --dry-run
fi
[ "$(ls -A "$T/esp/EFI")" = "" ] && ok "nothing was written to the ESP directory" ||
    no "nothing was written to the ESP directory" "$(ls -R "$T/esp")"

# make install: the files where unloop-bless.service and `unloop install` look
root=$T/root
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' recovery/unloop-bless.service)
if make -s --no-print-directory install DESTDIR="$root" >"$T/out" 2>&1 &&
    [ -x "$root$exe" ] && "$root$exe" --version >/dev/null &&
    cmp -s build/unloop.efi "$root/usr/lib/unloop/unloop.efi" &&
    [ -f "$root/usr/lib/systemd/system/unloop-bless.service" ] &&
    [ -f "$root/usr/share/man/man8/unloop.8" ]; then
    ok "make install DESTDIR: $exe (the unit's ExecStart), /usr/lib/unloop/unloop.efi, unit, man page"
else
    no "make install DESTDIR" "$(head -5 "$T/out"; find "$root" -type f 2>/dev/null)"
fi

summary install-cli
