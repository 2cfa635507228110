#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The body of `make check`: every suite runs even when an earlier one fails;
# the counts are summed into one closing line.
set -u
cd "$(dirname "$0")/.."
B=build
LOG=$B/check
mkdir -p "$LOG"
total_pass=0
total_fail=0

count() { # suite-name passed failed
    printf '%-17s %4d passed, %d failed\n' "$1:" "$2" "$3"
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
}

# 1. cmocka unit tests (ASan/UBSan): sum cmocka's own summary lines.
p=0; f=0
for t in $B/tests/unit/test-*; do
    [ -x "$t" ] || continue
    out=$LOG/unit-$(basename "$t").log
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$t" >"$out" 2>&1
    rc=$?
    tp=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
    tf=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
    p=$((p + ${tp:-0})); f=$((f + ${tf:-0}))
    if [ $rc -ne 0 ] && [ "${tf:-0}" -eq 0 ]; then f=$((f + 1)); fi
    if [ $rc -ne 0 ]; then echo "unit: $(basename "$t") failed:"; tail -30 "$out"; fi
done
count unit $p $f

# 2. the CLI as a user runs it
out=$LOG/cli.log
bash tests/cli/test-cli.sh >"$out" 2>&1
line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
cp=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); cf=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
[ -n "$line" ] || { cp=0; cf=1; }
[ "${cf:-1}" -eq 0 ] || grep -E '^(FAIL|not ok)' -A5 "$out"
count cli "${cp:-0}" "${cf:-1}"

# 3. Safe Mode in real Windows BCD stores, hivex as the oracle
out=$LOG/bcd.log
python3 tests/bcd/test_bcd.py >"$out" 2>&1
line=$(grep -E '^bcd: [0-9]+ passed' "$out" | tail -1)
bp=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); bf=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
[ -n "$line" ] || { bp=0; bf=1; tail -20 "$out"; }
[ "${bf:-1}" -eq 0 ] || grep -E '^FAIL' -A3 "$out"
count bcd "${bp:-0}" "${bf:-1}"

# 3b. the NTFS adapter (libntfs-3g) on real volumes, ntfs-3g tools as oracles
out=$LOG/ntfs.log
make --no-print-directory ntfs-test >"$out" 2>&1
tp=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
tf=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
if [ -z "$tp$tf" ]; then tf=1; tail -20 "$out"; fi
[ "${tf:-0}" -eq 0 ] || grep -E 'FAILED|error' "$out" | head -20
count ntfs "${tp:-0}" "${tf:-0}"

# 3b'. $LogFile replay (ntfsrecover as a library) on Windows-written logs,
#      Debian's ntfsrecover as the oracle
out=$LOG/replay.log
make --no-print-directory replay-test >"$out" 2>&1
tp=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
tf=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' | head -1)
if [ -z "$tp$tf" ]; then tf=1; tail -20 "$out"; fi
[ "${tf:-0}" -eq 0 ] || grep -E 'FAILED|ERROR' -A3 "$out" | head -20
count replay "${tp:-0}" "${tf:-0}"

# 3c. scan / quarantine / restore through the CLI on real NTFS volumes
out=$LOG/quarantine.log
python3 tests/quarantine/test_quarantine.py >"$out" 2>&1
line=$(grep -E '^quarantine: [0-9]+ passed' "$out" | tail -1)
qp_=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); qf_=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
[ -n "$line" ] || { qp_=0; qf_=1; tail -20 "$out"; }
[ "${qf_:-1}" -eq 0 ] || grep -E '^FAIL' -A3 "$out"
count quarantine "${qp_:-0}" "${qf_:-1}"

# A suite that ends with "PREFIX: N passed, N failed": suite NAME PREFIX command...
suite() {
    local name=$1 prefix=$2; shift 2
    local out=$LOG/$name.log
    "$@" >"$out" 2>&1
    local line sp sf
    line=$(grep -E "^$prefix: [0-9]+ passed" "$out" | tail -1)
    sp=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    sf=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    [ -n "$line" ] || { sp=0; sf=1; tail -20 "$out"; }
    [ "${sf:-1}" -eq 0 ] || grep -E '^FAIL' -A6 "$out"
    count "$name" "${sp:-0}" "${sf:-1}"
}

# 3d. a power cut at every write of a quarantine, then the next run (ASan)
suite cut-cli cut-every-write-cli python3 tests/ntfs/cut_every_write.py
# 3d'. the same on a BitLocker volume (every 6th cut point; dislocker as the oracle,
#      BitLocker's own areas unchanged); all of them: --step 1
suite cut-bitlocker cut-every-write-bitlocker python3 tests/bitlocker/cut_every_write_bitlocker.py --step 6

# 3e. BitLocker: unlock every Windows-made test volume with each of its keys
#     (SHA-256 of the result), info against bdeinfo and dislocker-metadata,
#     wrong/malformed keys, damaged metadata, truncated images
suite bitlocker bitlocker python3 tests/bitlocker/test_bitlocker.py

# 3f. BitLocker + NTFS: scan/quarantine/journal/restore on volumes unlocked
#     with a key (AES-XTS, AES-CBC + Elephant), dislocker-file and the
#     ntfs-3g tools as oracles; wrong keys change nothing
suite bitlocker-quarantine bitlocker-quarantine python3 tests/bitlocker/test_bitlocker_quarantine.py

# 3g. BitLocker writer (images/bitlocker-encrypt): every method and protector,
#     dislocker, libbde (bdeinfo, bdemount), ntfs-3g tools and unloop as oracles
suite bitlocker-writer writer python3 tests/bitlocker/test_writer.py
# 3h. unloop report summarize: hand-written reports (every outcome), refused
#     inputs with their reasons, CSV read back, terminal safety
suite report report python3 tests/cli/test_report.py
# 3i. unloop-agent (issue #7): the Linux build on directory ESPs, unloop-agent.exe
#     under Wine (console, service install/start/stop/uninstall, registry settings)
suite agent agent python3 tests/agent/test_agent.py
# 3j. unloop install/uninstall on the host: refusals, --dry-run, the install record
suite install-cli install-cli bash tests/cli/test-install.sh

# 4. fuzz smoke: each target runs a bounded time on its corpus
p=0; f=0
if make --no-print-directory fuzz-smoke >"$LOG/fuzz.log" 2>&1; then
    p=$(grep -c '^fuzz-smoke: ok' "$LOG/fuzz.log")
else
    f=1; tail -40 "$LOG/fuzz.log"
fi
count fuzz-smoke $p $f

# 5. the test machine image, checked with independent tools
img=$B/check/machine.img
out=$LOG/image.log
if images/build-test-machine.sh --out "$img" --loader $B/unloop.efi --stub $B/stub-loader.efi \
        >"$out" 2>&1 && bash tests/images/check-test-machine.sh "$img" >>"$out" 2>&1; then :; fi
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
ip=$(echo "$line" | grep -oE '^[0-9]+'); if_=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
[ -n "$line" ] || { ip=0; if_=1; tail -20 "$out"; }
[ "${if_:-1}" -eq 0 ] || grep -E '^not ok' "$out"
count image "${ip:-0}" "${if_:-1}"

# 6. QEMU/OVMF integration
out=$LOG/qemu.log
python3 tests/qemu/test_boot.py 2>&1 | tee "$out" | grep -E '^(PASS|FAIL)'
line=$(grep -E '^qemu: [0-9]+ passed' "$out" | tail -1)
qp=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); qf=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
[ -n "$line" ] || { qp=0; qf=1; tail -40 "$out"; }
[ "${qf:-1}" -eq 0 ] || grep -A40 '^FAIL' "$out"
count qemu "${qp:-0}" "${qf:-1}"

# 7. power cuts in QEMU while unloop.efi quarantines: at every 8th device
#    write of a quarantine (all of them: make qemu-power-cut), then at 20
#    random moments (after the suite above, which builds the images)
suite qemu-cut-writes cut-every-write python3 tests/qemu/cut_every_write.py --step 8
suite qemu-power-cut qemu python3 tests/qemu/test_boot.py --power-cut

# 6b. Secure Boot (Debian's snakeoil OVMF): signed unloop.efi runs; unsigned, tampered
#     and wrong-key images refused by the firmware; an unsigned loader refused, unloop falls back
suite secureboot secureboot python3 tests/qemu/test_secureboot.py
# 6b'. signed policy (build/policy-test, a throwaway openssl key): a signed rule is
#      applied; a bad or missing signature: the whole config ignored, said, still boots
suite policy policy python3 tests/qemu/test_policy.py
# 6b''. the bootnext hand-off and BitLocker's TPM seal (swtpm): after bootnext, PCRs 0-7
#       equal a direct boot of the loader; a chain-load changes PCR 4; auto; fallback
suite bootnext bootnext python3 tests/qemu/test_bootnext.py
# 6g. a real OS: Debian's kernel and a busybox initramfs boot through unloop and bless;
#     install/uninstall through efivarfs leave variables and ESP files as they were
suite linux linux python3 tests/qemu/test_linux.py

# 6c. the recovery USB stick image (make usb): sfdisk, fdisk, fsck.fat, mtools; booted over xHCI
suite usb usb python3 tests/images/test_usb.py
# 6d. network boot: the TFTP volume (efi/efi-tftp.c) PXE-booted from QEMU's TFTP server
suite pxe pxe python3 tests/qemu/test_pxe.py
# 6e. rescue mode (issue #6): the stick's script on crash-looping machines (plain,
#     BitLocker with and without a key, two installations), malformed script and key
#     file, network boot; reports checked
suite rescue rescue python3 tests/qemu/test_rescue.py

echo "logs: $LOG/"
echo "check: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
