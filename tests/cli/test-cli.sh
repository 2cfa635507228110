#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The unloop CLI used as a person or a script would: commands, --json keys,
# exit codes, on real directories.
set -u
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
# expect_rc NAME WANT CMD...
expect_rc() {
    local name=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else no "$name: exit $rc, want $want" "$(head -3 "$T/err")"; fi
}
# jq-less JSON checks: json_is FILE 'python expression on d'
json_is() {
    local name=$1 expr=$2
    if python3 -c "import json,sys; d=json.load(open('$T/out')); sys.exit(0 if ($expr) else 1)" 2>"$T/perr"; then
        ok "$name"
    else
        no "$name" "$(cat "$T/out" "$T/perr" | head -5)"
    fi
}

expect_rc "--help" 0 "$U" --help
grep -q "bless" "$T/out" && ok "--help lists bless" || no "--help lists bless"
expect_rc "--version" 0 "$U" --version
grep -qE '^unloop [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" && ok "--version format" || no "--version format" "$(cat "$T/out")"
expect_rc "no command is a usage error" 2 "$U"
expect_rc "unknown command is a usage error" 2 "$U" frobnicate
expect_rc "unknown option is a usage error" 2 "$U" status --bogus
expect_rc "config without check is a usage error" 2 "$U" config
expect_rc "missing ESP directory fails" 1 "$U" status --esp "$T/nope"

ESP=$T/esp; mkdir -p "$ESP/EFI"
expect_rc "status on a fresh ESP" 0 "$U" status --json --esp "$ESP"
json_is "fresh ESP: state missing, attempts 0" 'd["state"]=="missing" and d["attempts"]==0 and d["last_good"] is None'
json_is "status --json has the documented keys" 'all(k in d for k in ["esp","state","attempts","boots","threshold","loop_detected","last_good","fixed_by","next_boot","loader","config"])'

expect_rc "bless on a fresh ESP" 0 "$U" bless --json --esp "$ESP"
json_is "bless --json" 'd["blessed"] is True and d["attempts"]==0 and d["last_good"].endswith("Z")'
[ -s "$ESP/EFI/unloop/state" ] && [ "$(stat -c %s "$ESP/EFI/unloop/state")" -eq 8192 ] && ok "bless created an 8 KiB state file" || no "bless created an 8 KiB state file"
grep -q "os notice: boot blessed: 0 attempts reset" "$ESP/EFI/unloop/log" && ok "bless wrote the log" || no "bless wrote the log" "$(cat "$ESP/EFI/unloop/log")"

# A state written by an independent implementation of the documented format.
python3 tests/cli/mkstate.py "$ESP/EFI/unloop/state" attempts=3 seq=7 boots=9 last_good=1721340000 slot=1
expect_rc "status of a looping machine" 0 "$U" status --json --esp "$ESP"
json_is "attempts 3 = loop detected, menu next" 'd["attempts"]==3 and d["loop_detected"] and d["next_boot"]=="menu" and d["slot"]==1 and d["seq"]==7 and d["last_good"]=="2024-07-18T22:00:00Z"'
expect_rc "human status" 0 "$U" status --esp "$ESP"
grep -q "BOOT LOOP" "$T/out" && ok "human status says BOOT LOOP" || no "human status says BOOT LOOP" "$(cat "$T/out")"
expect_rc "bless a looping machine" 0 "$U" bless --json --esp "$ESP"
json_is "bless reports previous attempts" 'd["previous_attempts"]==3 and d["seq"]==8'
"$U" status --json --esp "$ESP" >"$T/out"
json_is "after bless: attempts 0, newer slot 0" 'd["attempts"]==0 and d["slot"]==0 and d["seq"]==8 and d["boots"]==9'

# Corrupt state: status says so with exit 4; bless repairs it.
head -c 8192 /dev/urandom >"$ESP/EFI/unloop/state"
expect_rc "status of a corrupt state file" 4 "$U" status --json --esp "$ESP"
json_is "corrupt state reported" 'd["state"]=="corrupt" and d["attempts"]==0'
expect_rc "bless repairs a corrupt state" 0 "$U" bless --esp "$ESP"
"$U" status --json --esp "$ESP" >"$T/out"
json_is "state ok after repair" 'd["state"] in ("ok","degraded") and d["attempts"]==0'

# FAT is case-insensitive: an ESP with other spellings works in place.
ESP2=$T/esp2; mkdir -p "$ESP2/efi/UNLOOP"
expect_rc "bless on efi/UNLOOP" 0 "$U" bless --esp "$ESP2"
[ -f "$ESP2/efi/UNLOOP/state" ] && [ ! -e "$ESP2/EFI" ] && ok "state written into the existing efi/UNLOOP" || no "state written into the existing efi/UNLOOP" "$(find "$ESP2")"
UNLOOP_ESP=$ESP2 "$U" status --json >"$T/out" && json_is "UNLOOP_ESP names the ESP" 'd["esp"].endswith("esp2")'

# config check
printf '[unloop]\nthreshold = 4\nmenu_timeout = 0\nloader = /EFI/Microsoft/Boot/bootmgfw.efi\n' >"$T/good.conf"
expect_rc "config check on a valid file" 0 "$U" config check --json "$T/good.conf"
json_is "valid config: effective values" 'd["valid"] and d["effective"]["threshold"]==4 and d["effective"]["loader"]=="\\EFI\\Microsoft\\Boot\\bootmgfw.efi"'
printf '[unloop]\nthreshold = 0\nfoo = 1\nbroken line\n' >"$T/bad.conf"
expect_rc "config check on a bad file" 3 "$U" config check "$T/bad.conf"
grep -q "bad.conf:2: error: threshold" "$T/out" && grep -q "bad.conf:3: error: unknown key 'foo'" "$T/out" && grep -q "bad.conf:4: error: expected 'key = value'" "$T/out" \
    && ok "config errors name their lines" || no "config errors name their lines" "$(cat "$T/out")"
"$U" config check --json "$T/bad.conf" >"$T/out"
json_is "config check --json lists diagnostics" 'not d["valid"] and d["errors"]==3 and [x["line"] for x in d["diagnostics"]]==[2,3,4] and d["effective"]["threshold"]==3'
expect_rc "config check reads stdin" 0 "$U" config check - <"$T/good.conf"
expect_rc "config check on a missing file" 1 "$U" config check "$T/missing.conf"

# Bad config on the ESP: status still works and says so.
mkdir -p "$ESP/EFI/unloop" && cp "$T/bad.conf" "$ESP/EFI/unloop/unloop.conf"
"$U" status --json --esp "$ESP" >"$T/out"
json_is "status reports config errors" 'd["config"]=="errors" and d["config_errors"]==3'

# Safe Mode on an ESP with a real Windows BCD store
BCDSRC=../shared/testdata/bcd/win10-efi-locate.BCD
if [ -f "$BCDSRC" ]; then
    ESP3=$T/esp3; mkdir -p "$ESP3/EFI/Microsoft/Boot"; cp "$BCDSRC" "$ESP3/EFI/Microsoft/Boot/BCD"
    expect_rc "safe-mode status on an ESP" 0 "$U" --json safe-mode status --esp "$ESP3"
    json_is "safe-mode status: off, default loader named" 'd["safeboot"] is None and d["default_loader"].startswith("{") and d["description"]'
    expect_rc "safe-mode on --network" 0 "$U" --json safe-mode on --network --esp "$ESP3"
    json_is "safe-mode on --network: changed, backup in \\EFI\\unloop" 'd["changed"] and d["safeboot"]=="network" and d["backup"].endswith("EFI/unloop/BCD.backup")'
    cmp -s "$BCDSRC" "$ESP3/EFI/unloop/BCD.backup" && ok "BCD.backup is the original store" || no "BCD.backup is the original store"
    expect_rc "safe-mode on again with the same mode" 0 "$U" --json safe-mode on --network --esp "$ESP3"
    json_is "nothing to change the second time" 'd["changed"] is False'
    expect_rc "safe-mode off" 0 "$U" --json safe-mode off --esp "$ESP3"
    json_is "safe-mode off: cleared" 'd["changed"] and d["safeboot"] is None'
    expect_rc "--network without on is a usage error" 2 "$U" safe-mode off --network --esp "$ESP3"
    expect_rc "safe-mode with a bad action is a usage error" 2 "$U" safe-mode maybe --esp "$ESP3"
    expect_rc "bcd list" 0 "$U" --json bcd list --esp "$ESP3"
    json_is "bcd list: one default Windows loader" 'sum(o["default"] for o in d["objects"])==1 and any(o["kind"]=="Windows loader" for o in d["objects"])'
    # unloop's one-shot Safe Mode (state flag) is cleared by bless; a person's is not
    "$U" safe-mode on --esp "$ESP3" >/dev/null
    mkdir -p "$ESP3/EFI/unloop"
    python3 tests/cli/mkstate.py "$ESP3/EFI/unloop/state" attempts=4 rung=4 flags=1
    expect_rc "bless with unloop's Safe Mode set" 0 "$U" --json bless --esp "$ESP3"
    json_is "bless cleared unloop's Safe Mode" 'd["safe_mode_cleared"] is True and d["fixed_by"]=="safe-mode"'
    "$U" --json safe-mode status --esp "$ESP3" >"$T/out"
    json_is "safeboot gone after bless" 'd["safeboot"] is None'
    "$U" safe-mode on --esp "$ESP3" >/dev/null
    "$U" bless --esp "$ESP3" >/dev/null
    "$U" --json safe-mode status --esp "$ESP3" >"$T/out"
    json_is "a Safe Mode a person set survives bless" 'd["safeboot"]=="minimal"'
    printf 'not a hive' >"$T/bad.BCD"
    expect_rc "safe-mode on a file that is not a hive" 5 "$U" safe-mode on --bcd "$T/bad.BCD"
    grep -q "not a valid hive" "$T/err" && ok "the error says the store is not a valid hive" || no "the error says the store is not a valid hive" "$(cat "$T/err")"
else
    no "test BCD store $BCDSRC missing"
fi

# man page renders
if command -v man >/dev/null 2>&1 && man -l recovery/unloop.8 >/dev/null 2>&1; then ok "man page renders"
elif groff -man -Tutf8 recovery/unloop.8 >/dev/null 2>&1; then ok "man page renders (groff)"
else no "man page renders"; fi

summary cli
