#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Integration tests: the test machine booted in QEMU/OVMF (issue #2 acceptance).

Usage: test_boot.py [-k NAME] [-j JOBS]. Needs build/unloop.efi, build/unloop,
build/stub-loader.efi and the image tools (make all). Prints one line per test
and a closing 'N passed, N failed' line.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

TEST_CONF = b"""# test machine: short countdown so tests run quickly
[unloop]
threshold = 3
menu_timeout = 2
"""

BASE = os.path.join(harness.BUILD, "qemu", "base.img")
# The same machine, but the faulty channel file arrived an hour ago (and no
# good boot was ever recorded): what a fresh install on a crashing PC sees.
QBASE = os.path.join(harness.BUILD, "qemu", "quarantine.img")
BAD = "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys"


BASE_LOCK = threading.Lock()


Failure = harness.Failure
check = harness.check


# Quarantine machines whose Windows volume Windows left mid-flight (issue #3):
# name prefix -> (base image, extra build-test-machine.sh arguments, extra
# manifest lines).  The volumes with a $LogFile are partitions Windows
# formatted and wrote (tests/data/ntfs-samples/).
SAMPLES = os.path.join(harness.TOP, "tests", "data", "ntfs-samples")
MIDFLIGHT = {
    "quarantine_unclean_log": ("quarantine-unclean-log.img", [
        "--size", "420", "--ntfs-base", os.path.join(SAMPLES, "ntfs-lastaccess.part.xz"),
        "--crash-log", "0"], []),
    "quarantine_unreplayable_log": ("quarantine-unreplayable-log.img", [
        "--size", "1150", "--ntfs-base", os.path.join(SAMPLES, "ntfs-2m.part.xz"),
        "--crash-log", "0x1000"], []),
    "quarantine_hibernated": ("quarantine-hibernated.img", [], [
        "file \\hiberfil.sys 2024-07-19T03:00:00Z hex:68696272:65536\n"]),
    # Issue #5: the Windows volume BitLocker-encrypted (AES-XTS-128) under a
    # recovery password by images/bitlocker-encrypt, read by dislocker and libbde.
    "quarantine_bitlocker": ("quarantine-bitlocker.img", ["--bitlocker", "RP"], []),
}
# The test machine's recovery password (its groups pass the check).
BL_RP = "235818-357951-253979-013365-241120-245575-342914-591910"


def new_machine(name):
    base = QBASE if name.startswith("quarantine") else BASE
    for prefix, (img, args, lines) in MIDFLIGHT.items():
        if name.startswith(prefix):
            base = os.path.join(harness.BUILD, "qemu", img)
            args = [BL_RP if a == "RP" else a for a in args]
            with BASE_LOCK:
                if not os.path.exists(base):
                    build_quarantine_base(os.path.join(harness.BUILD, "qemu", "test.conf"),
                                          base, args, lines)
    return Machine(base, os.path.join(harness.BUILD, "qemu", name))


def build_quarantine_base(conf, out_img=QBASE, args=(), extra=()):
    import datetime
    import re
    src = os.path.join(harness.TOP, "images", "test-machine.manifest")
    hour_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    stamp = hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = out_img + ".manifest"
    with open(src) as f, open(out, "w") as g:
        for line in f:
            if "C-00000291-00000000-00000032.sys" in line and line.startswith("file"):
                line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp, line, count=1)
            g.write(line)
        g.writelines(extra)
    subprocess.run([os.path.join(harness.TOP, "images", "build-test-machine.sh"), "--out", out_img,
                    "--loader", os.path.join(harness.BUILD, "unloop.efi"),
                    "--stub", os.path.join(harness.BUILD, "stub-loader.efi"),
                    "--conf", conf, "--bcd", harness.TEST_BCD, "--manifest", out] + list(args),
                   check=True)


def test_healthy_machine_boots_through_and_is_blessed(m):
    """(a) A healthy machine boots N times, blessed each time, never shows the menu."""
    for i in range(4):
        b = m.boot()
        check(b.reached_loader, "boot %d did not reach the OS loader" % (i + 1), b)
        check(not b.menu_shown, "boot %d showed the recovery menu" % (i + 1), b)
        st = m.status()
        check(st["attempts"] == 1, "attempts after boot %d: %r, want 1" % (i + 1, st["attempts"]))
        m.bless()
        st = m.status()
        check(st["attempts"] == 0 and st["last_good"], "bless did not reset: %r" % st)
    check(st["boots"] == 4, "boots counted: %r, want 4" % st["boots"])
    log = m.esp_read("\\EFI\\unloop\\log").decode()
    check(log.count("os notice: boot blessed") == 4, "log lacks 4 bless lines:\n" + log)
    check(log.count("pre-boot info: attempt 1 of 3") == 4, "log lacks 4 attempt lines:\n" + log)


def test_boot_loop_reaches_menu_on_attempt_3(m):
    """(b) A machine that crashes every time reaches the recovery menu on attempt 3;
    with quarantine not in this build the ladder moves on to Safe Mode."""
    for i in (1, 2):
        b = m.boot()
        check(b.reached_loader and not b.menu_shown, "attempt %d: want plain hand-off" % i, b)
        # "Windows" blue-screens: no bless
    b = m.boot()
    check(b.menu_shown, "attempt 3 did not show the recovery menu", b)
    check("boot loop detected: attempt 3, threshold 3" in b.text, "no detection line", b)
    check("[no recent third-party driver content]" in b.text,
          "menu does not say why quarantine cannot help", b)
    check("countdown expired, default 'Safe Mode (next boot only)'" in b.text,
          "countdown did not run out on Safe Mode", b)
    check(b.reached_loader, "after the menu the OS loader was not reached", b)
    st = m.status()
    check(st["attempts"] == 3 and st["loop_detected"], "status after attempt 3: %r" % st)


def test_safe_mode_one_boot_then_cleared(m):
    """Issue #4: "Windows" crashes unless safeboot is set. The ladder sets Safe Mode
    (minimal) in the real BCD store on the ESP; that boot succeeds and is blessed;
    the next unloop run clears it and the boot after is normal; the store is a
    valid hive all along and nothing else in it changed."""
    orig = m.bcd_file()
    orig_tree = bcd_tree(orig)
    crashed = 0
    for attempt in range(1, 6):
        b = m.boot()
        check(b.reached_loader, "attempt %d: loader not reached" % attempt, b)
        sb = m.bcd_safeboot()
        if sb is None:
            crashed += 1          # the faulty driver loads: blue screen, no bless
            continue
        check(sb == 0, "safeboot = %r, want 0 (minimal)" % sb, b)
        check("Safe Mode (minimal) set for the next boot" in b.text, "no Safe Mode line", b)
        break
    else:
        raise Failure("Safe Mode was never set in 5 attempts")
    check(crashed == 2 and attempt == 3, "Safe Mode set on attempt %d, want 3" % attempt)
    st = m.status()
    check(st["rung"] == "safe-mode", "state does not record the Safe Mode step: %r" % st)
    m.bless()                     # Windows reached the desktop in Safe Mode
    b = m.boot()
    check("one-shot Safe Mode cleared after a good boot" in b.text, "Safe Mode not cleared", b)
    check(m.bcd_safeboot() is None, "safeboot still set after a good boot")
    check(b.reached_loader and not b.menu_shown, "the boot after Safe Mode was not normal", b)
    check(bcd_tree(m.bcd_file()) == orig_tree, "the BCD store differs from the original")
    backup = m.esp_read("\\EFI\\unloop\\BCD.backup")
    check(backup is not None and backup[:4] == b"regf", "no BCD.backup")


def test_safe_mode_cleared_by_bless(m):
    """'4' at the menu sets Safe Mode with networking; bless on a mounted ESP (the
    OS agent) clears unloop's Safe Mode itself."""
    m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF.replace(b"threshold = 3", b"threshold = 1"))
    b = m.boot(keys=[("any key stops the countdown", b"4")])
    check("Safe Mode (network) set for the next boot" in b.text and b.reached_loader,
          "'4' did not set Safe Mode with networking", b)
    check(m.bcd_safeboot() == 1, "safeboot is not 1 (network) on the image", b)
    r = m.cli("bless", "--json", with_bcd=True)
    import json
    d = json.loads(r.stdout)
    check(d.get("safe_mode_cleared") is True, "bless did not clear Safe Mode: %s %s" % (r.stdout, r.stderr))
    check(m.bcd_safeboot() is None, "safeboot still in the BCD after bless")
    m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF)   # threshold 3 again
    b = m.boot()
    check(b.reached_loader and not b.menu_shown
          and "Safe Mode" not in "\n".join(b.unloop_lines()),
          "the boot after bless was not plain", b)
    check(m.bcd_safeboot() is None, "safeboot back in the BCD")


def test_quarantine_breaks_the_loop(m):
    """Issue #3: "Windows" blue-screens while C-00000291*.sys is in place. Crash, crash,
    crash -> unloop quarantines the file before Windows starts -> that boot succeeds ->
    bless -> the next boot is healthy with no menu. Then `unloop restore` on the disk
    image puts the file back byte-identical, with its times."""
    vol = m.ntfs_image()
    orig = subprocess.run(["ntfscat", "-f", vol, BAD.replace("\\", "/")], capture_output=True).stdout
    check(len(orig) == 41984, "test image lacks the channel file")
    orig_times = si_times(vol, BAD)
    for attempt in range(1, 6):
        b = m.boot()
        check(b.reached_loader, "attempt %d: loader not reached" % attempt, b)
        if m.ntfs_exists(BAD):
            continue              # blue screen: no bless
        break
    else:
        raise Failure("the channel file was never quarantined in 5 attempts")
    check(attempt == 3, "quarantined on attempt %d, want 3" % attempt, b)
    check("countdown expired, default 'Quarantine the newest third-party driver content'" in b.text,
          "the countdown did not choose quarantine", b)
    lines = [ln for ln in b.text.split("\n") if "unloop: quarantined " in ln and " -> " in ln]
    check(len(lines) == 1, "want one 'quarantined' line on the console", b)
    qpath = lines[0].split(" -> ", 1)[1].strip()
    vol = m.ntfs_image()
    check(m.ntfs_exists(qpath, vol), "not under %s on the image" % qpath)
    got = subprocess.run(["ntfscat", "-f", vol, qpath.replace("\\", "/")], capture_output=True).stdout
    check(hashlib.sha256(got).digest() == hashlib.sha256(orig).digest(), "content changed")
    check(m.ntfs_exists("\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000031.sys", vol),
          "the older channel file moved too (newest only on step 2)")
    journal = m.esp_read("\\EFI\\unloop\\journal")
    check(journal is not None and len(journal) == 1024, "no journal copy (2 records) on the ESP")
    st = m.status()
    check(st["rung"] == "quarantine-newest", "state does not record the step: %r" % st)
    m.bless()                     # the quarantine boot reached the desktop
    st = m.status()
    check(st["fixed_by"] == "quarantine-newest", "fixed_by: %r" % st)
    b = m.boot()
    check(b.reached_loader and not b.menu_shown, "the boot after the fix was not healthy", b)
    r = subprocess.run([harness.CLI, "--json", "restore", m.disk], capture_output=True, text=True)
    check(r.returncode == 0, "unloop restore failed: " + r.stderr)
    vol = m.ntfs_image()
    back = subprocess.run(["ntfscat", "-f", vol, BAD.replace("\\", "/")], capture_output=True).stdout
    check(back == orig, "restored file is not byte-identical")
    check(si_times(vol, BAD) == orig_times and len(orig_times) == 4,
          "restored file lost its times: %r vs %r" % (si_times(vol, BAD), orig_times))
    check(m.ntfs_consistent(vol), "ntfsfix -n does not find the volume consistent")


def ntfs_sha(m):
    import hashlib
    with open(m.ntfs_image(), "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def volume_only(vol):
    """Cut the extracted partition to its NTFS volume + the backup boot sector: a
    sample volume is smaller than the partition it was put in, and ntfsfix looks for
    the backup boot sector at the end of the device."""
    with open(vol, "rb") as f:
        bs = f.read(512)
    os.truncate(vol, (int.from_bytes(bs[0x28:0x30], "little") + 1) * 512)
    return vol


def loop_until_attempt_3(m):
    """Three boots that never reach "boot good"; the third is the looping one."""
    for attempt in range(1, 4):
        b = m.boot()
        check(b.reached_loader, "attempt %d: loader not reached (fail open)" % attempt, b)
    return b


def test_quarantine_unclean_log_replayed(m):
    """Issue #3: Windows died with its volume mounted, so $LogFile is unclean (a
    partition Windows wrote; its restart area as Windows leaves it after a crash).
    On the looping attempt unloop.efi replays the log as Windows would, then
    quarantines; the volume is consistent and libntfs-3g mounts it read-write."""
    vol = m.ntfs_image()
    check(subprocess.run(["ntfs-3g.probe", "--readwrite", vol], capture_output=True).returncode != 0,
          "the test volume's log is not unclean to begin with")
    b = loop_until_attempt_3(m)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("replayed the NTFS journal ($LogFile) Windows left unclean" in log,
          "no replay in the log:\n" + log[-3000:], b)
    vol = m.ntfs_image()
    check(not m.ntfs_exists(BAD, vol), "the channel file was not quarantined", b)
    check(subprocess.run(["ntfs-3g.probe", "--readwrite", vol], capture_output=True).returncode == 0,
          "libntfs-3g does not mount the volume read-write after the replay")
    check(m.ntfs_consistent(volume_only(vol)), "ntfsfix -n does not find the volume consistent")


def test_quarantine_unreplayable_log_refused(m):
    """Issue #3: a log ntfsrecover cannot replay: unloop.efi writes nothing to the
    volume (its checksum is unchanged), says why, and the ladder moves on to Safe Mode,
    which needs no NTFS write."""
    before = ntfs_sha(m)
    b = loop_until_attempt_3(m)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("cannot be replayed" in log and "not writing" in log,
          "the log does not say why:\n" + log[-3000:], b)
    check(ntfs_sha(m) == before, "the NTFS volume changed")
    check(m.bcd_safeboot() == 0, "Safe Mode was not set instead", b)


def test_quarantine_hibernated_refused(m):
    """Issue #3: Windows is hibernated (Fast Startup) on the volume and the policy does
    not allow discarding that session: nothing written, the reason given, Safe Mode."""
    before = ntfs_sha(m)
    b = loop_until_attempt_3(m)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("hibernated" in log and "not writing" in log, "the log does not say why:\n" + log[-3000:], b)
    check(ntfs_sha(m) == before, "the NTFS volume changed")
    check(m.bcd_safeboot() == 0, "Safe Mode was not set instead", b)


def bitlocker_protector(m):
    """The recovery-password protector ID of the machine's Windows volume (not secret)."""
    import json
    r = subprocess.run([harness.CLI, "--json", "bitlocker", "info", m.disk], capture_output=True,
                       text=True)
    check(r.returncode == 0, "unloop bitlocker info failed: " + r.stderr)
    d = json.loads(r.stdout)
    vols = d if isinstance(d, list) else d.get("volumes", [d])
    for v in vols:
        for p in v.get("protectors", []):
            if p.get("type") == "recovery-password":
                return p["id"] if "id" in p else p["guid"]
    raise Failure("no recovery-password protector in: " + r.stdout)


def decrypted(m):
    """The Windows volume decrypted by dislocker (an oracle independent of unloop)."""
    raw = m.ntfs_image()
    out = raw + ".dec"
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run(["dislocker-file", "-V", raw, "-p" + BL_RP, out], capture_output=True,
                       text=True)
    check(r.returncode == 0 and os.path.exists(out), "dislocker-file failed: " + r.stdout[-800:])
    return out


def no_key_material(m, b):
    """Key hygiene: no group of the recovery password in the log or on the screen."""
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    for g in BL_RP.split("-"):
        check(g not in log, "a recovery password group is in the ESP log")
        check(g not in b.text, "a recovery password group is on the screen", b)


def test_quarantine_bitlocker_key_file(m):
    """Issue #5: an encrypted machine in a crash loop with its recovery password in an
    AD-style CSV on the ESP: unloop.efi unlocks the volume, quarantines the channel file
    and hands off; the next boot is healthy. dislocker sees the file moved and
    byte-identical, ntfsfix finds the volume consistent; `unloop restore` with the
    same key file puts it back."""
    pid = bitlocker_protector(m).strip("{}").upper()
    csv = ('#TYPE Selected.Microsoft.ActiveDirectory.Management.ADObject\r\n'
           '"Name","msFVE-RecoveryPassword","DistinguishedName"\r\n'
           '"2024-07-19T03:12:33-00:00{00000000-1111-2222-3333-444444444444}",'
           '"111111-222222-333333-444444-555555-666666-777777-888888","CN=...,CN=PC7"\r\n'
           '"2024-07-18T09:00:01-00:00{%s}","%s","CN=...,CN=PC1"\r\n' % (pid, BL_RP))
    m.esp_write("\\EFI\\unloop\\keys\\recovery-keys.csv", csv.encode())
    vol = decrypted(m)
    orig = subprocess.run(["ntfscat", "-f", vol, BAD.replace("\\", "/")], capture_output=True).stdout
    check(len(orig) == 41984, "test image lacks the channel file")
    b = loop_until_attempt_3(m)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("BitLocker volume (AES-XTS 128-bit, encrypted)" in log, "no BitLocker line:\n" +
          log[-3000:], b)
    check("BitLocker unlocked with the recovery password of protector" in log and
          "recovery-keys.csv" in log, "not unlocked from the key file:\n" + log[-3000:], b)
    lines = [ln for ln in b.text.split("\n") if "unloop: quarantined " in ln and " -> " in ln]
    check(len(lines) == 1, "want one 'quarantined' line on the console", b)
    qpath = lines[0].split(" -> ", 1)[1].strip()
    no_key_material(m, b)
    vol = decrypted(m)
    check(not m.ntfs_exists(BAD, vol), "the channel file is still in place (dislocker)")
    got = subprocess.run(["ntfscat", "-f", vol, qpath.replace("\\", "/")], capture_output=True).stdout
    check(got == orig, "the quarantined file is not byte-identical (dislocker)")
    check(m.ntfs_consistent(volume_only(vol)), "ntfsfix -n does not find the decrypted volume consistent")
    m.bless()
    b = m.boot()
    check(b.reached_loader and not b.menu_shown, "the boot after the fix was not healthy", b)
    keys = os.path.join(m.dir, "keys.csv")
    with open(keys, "w") as f:
        f.write(csv)
    r = subprocess.run([harness.CLI, "restore", m.disk, "--key-file", keys], capture_output=True,
                       text=True)
    check(r.returncode == 0, "unloop restore --key-file failed: " + r.stderr)
    vol = decrypted(m)
    back = subprocess.run(["ntfscat", "-f", vol, BAD.replace("\\", "/")], capture_output=True).stdout
    check(back == orig, "restored file is not byte-identical (dislocker)")
    check(m.ntfs_consistent(volume_only(vol)), "ntfsfix -n: not consistent after restore")


def test_quarantine_bitlocker_no_key_safe_mode(m):
    """Issue #5: the same machine without a key file and nobody at the keyboard: the
    prompt times out, unloop says on screen and in the log that there is no key, writes
    nothing to the volume and sets Safe Mode, which needs no key."""
    m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF + b"[bitlocker]\nprompt_timeout = 3\n")
    before = ntfs_sha(m)
    b = loop_until_attempt_3(m)
    check("BitLocker recovery" in b.text and "No key typed; skipping." in b.text,
          "the prompt did not time out", b)
    check("The Windows drive is BitLocker-encrypted and no key for it was found" in b.text,
          "no on-screen message", b)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("quarantine not possible: BitLocker-encrypted and no key for it" in log,
          "the log does not say why:\n" + log[-3000:], b)
    check(ntfs_sha(m) == before, "the encrypted volume changed")
    check(m.bcd_safeboot() == 0, "Safe Mode was not set instead", b)


def test_quarantine_bitlocker_typed_key(m):
    """Issue #5: nobody put a key file on the ESP but a technician is there: the
    recovery password is typed at the prompt, a mistyped group is refused as soon as
    its sixth digit is in (as on Windows' recovery screen) and typed again, and the
    volume is unlocked and the file quarantined."""
    groups = BL_RP.split("-")
    # 123456 % 11 != 0; the serial input is in order, so the retyped group
    # needs no wait for the refusal
    typed = [("Type the 48-digit recovery key", b"123456")]
    typed += [("", g.encode()) for g in groups]
    typed.append(("", b"\r"))
    for attempt in (1, 2):
        m.boot()
    b = m.boot(keys=typed)
    check("Group 1 is not valid (check digit" in b.text or "Group 1 is not valid" in b.text,
          "the bad group was not refused", b)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode(errors="replace")
    check("recovery password typed at the prompt" in log, "not unlocked at the prompt:\n" +
          log[-3000:], b)
    check(any("unloop: quarantined " in ln for ln in b.text.split("\n")), "nothing quarantined", b)
    vol = decrypted(m)
    check(not m.ntfs_exists(BAD, vol), "the channel file is still in place (dislocker)")
    log_only = log.replace(b.text, "")
    for g in groups:
        check(g not in log_only, "a recovery password group is in the ESP log")


def powercut_quarantine_at_random_moments(m):
    """Issue #3: the plug is pulled at a random moment while unloop.efi quarantines
    (20 runs, POWER_CUT_RUNS to change). After the next boot every time: the channel
    file is in exactly one place with its content, no journal entry is left half
    done, and ntfsfix -n finds the volume consistent."""
    import json
    import random
    import shutil
    runs = int(os.environ.get("POWER_CUT_RUNS", "20"))
    rng = random.Random(int(os.environ.get("POWER_CUT_SEED", "2407")))
    base = m.disk + ".clean"
    shutil.copy(m.disk, base)
    orig = subprocess.run(["ntfscat", "-f", m.ntfs_image(), BAD.replace("\\", "/")],
                          capture_output=True).stdout
    outcomes = {"before": 0, "during": 0, "moved": 0, "after": 0}
    for i in range(runs):
        shutil.copy(base, m.disk)
        shutil.copy(harness.OVMF_VARS, m.vars)
        m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF.replace(b"menu_timeout = 2", b"menu_timeout = 0"))
        state = os.path.join(m.dir, "state.seed")
        subprocess.run([sys.executable, os.path.join(harness.TOP, "tests", "cli", "mkstate.py"), state,
                        "attempts=2", "boots=2", "first=%d" % int(__import__("time").time())], check=True)
        with open(state, "rb") as f:
            m.esp_write("\\EFI\\unloop\\state", f.read())
        # The move comes 0.1-0.3 s (host time, TCG) after the volume is opened: the
        # journal replay, the scan and the menu come first.  Cuts spread over that.
        delay = rng.uniform(0.0, 0.4)
        b = m.boot(kill_after=("Windows volume opened for quarantine", delay), timeout=60)
        # Where did the cut land?  Ask the journal on the image, read-only.
        r = subprocess.run([harness.CLI, "--json", "journal", m.disk], capture_output=True, text=True)
        states = [f["state"] for f in json.loads(r.stdout)["files"]] if r.returncode == 0 else []
        if b.reached_loader:
            outcomes["after"] += 1
        elif any(st.startswith("intent") for st in states):
            outcomes["during"] += 1
        elif "quarantined" in states:
            outcomes["moved"] += 1
        else:
            outcomes["before"] += 1
        b2 = m.boot(timeout=90)    # power back on: the next attempt replays the journal
        check(b2.reached_loader, "run %d (cut %.2f s): the next boot did not reach the loader" % (i, delay), b2)
        vol = m.ntfs_image()
        places = []
        if m.ntfs_exists(BAD, vol):
            places.append(BAD)
        r = subprocess.run([harness.CLI, "--json", "journal", m.disk], capture_output=True, text=True)
        check(r.returncode == 0, "run %d: journal unreadable: %s" % (i, r.stderr))
        files = json.loads(r.stdout)["files"]
        check(all(f["state"] in ("quarantined", "rolled-back", "restored") for f in files),
              "run %d: an entry is left half done: %r" % (i, files))
        for f in files:
            if f["state"] == "quarantined" and m.ntfs_exists(f["quarantine_path"], vol):
                places.append(f["quarantine_path"])
        check(len(places) == 1, "run %d (cut %.2f s): the file is in %d places: %r" %
              (i, delay, len(places), places))
        got = subprocess.run(["ntfscat", "-f", vol, places[0].replace("\\", "/")],
                             capture_output=True).stdout
        check(got == orig, "run %d: content changed" % i)
        check(m.ntfs_consistent(vol), "run %d (cut %.2f s): ntfsfix -n finds the volume inconsistent" % (i, delay))
    print("  power cuts: %d before the intent record, %d between intent and done, %d after the "
          "move, %d after the hand-off" % (outcomes["before"], outcomes["during"],
                                          outcomes["moved"], outcomes["after"]), flush=True)


def si_times(vol, path):
    """The four $STANDARD_INFORMATION times as ntfsinfo prints them (UTC)."""
    out = subprocess.run(["ntfsinfo", "-f", "-F", path.replace("\\", "/"), vol],
                         capture_output=True, text=True, env=dict(os.environ, TZ="UTC")).stdout
    return [ln.split(":", 1)[1].strip() for ln in out.splitlines()
            if ln.strip().startswith(("File Creation Time", "File Altered Time",
                                      "MFT Changed Time", "Last Accessed Time"))][:4]


def bcd_tree(path):
    """Keys and values of a hive as hivexml shows them, without times and offsets."""
    import subprocess
    import xml.etree.ElementTree as ET
    root = ET.fromstring(subprocess.run(["hivexml", path], capture_output=True, check=True).stdout)

    def node(n):
        return ({c.get("key"): (c.get("type"), c.get("value")) for c in n if c.tag == "value"},
                {c.get("name").lower(): node(c) for c in n if c.tag == "node"})
    return node(root.find("node"))


def test_menu_keys_unavailable_item_then_show_log_then_continue(m):
    """A person at the menu: an unavailable item says so, Show log shows the log,
    '1' continues the boot."""
    m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF.replace(b"threshold = 3", b"threshold = 1"))
    b = m.boot(keys=[("any key stops the countdown", b"2"),
                     ("Press 1-8", b"6"),
                     ("Press any key to return to the menu", b"x"),
                     ("Press 1-8", b"1")])
    check(b.menu_shown, "threshold 1: menu not shown on attempt 1", b)
    check("menu: chosen 'Quarantine the newest third-party driver content'" in b.text,
          "key '2' not taken", b)
    check("unloop log (newest at the bottom)" in b.text, "Show log page missing", b)
    check("menu: chosen 'Continue boot" in b.text, "key '1' not taken", b)
    check(b.reached_loader, "OS loader not reached after 'Continue boot'", b)


def test_menu_reboot_and_firmware_setup(m):
    """'7' reboots (QEMU exits, no hand-off); '8' sets OsIndications and the next
    boot opens the firmware's setup instead of booting."""
    m.esp_write("\\EFI\\unloop\\unloop.conf", TEST_CONF.replace(b"threshold = 3", b"threshold = 1"))
    b = m.boot(keys=[("any key stops the countdown", b"7")])
    check("unloop: rebooting" in b.text and not b.reached_loader and b.exit_code == 0,
          "'7' did not reboot (exit %r)" % b.exit_code, b)
    b = m.boot(keys=[("any key stops the countdown", b"8")])
    check("rebooting into firmware setup" in b.text and not b.reached_loader,
          "'8' did not reboot into setup", b)
    b = m.boot(stop_on=("", "Device Manager"), timeout=60)
    check("Device Manager" in b.text and not b.reached_loader,
          "the boot after '8' did not open the firmware setup", b)
    check("unloop:" not in b.text, "unloop ran although setup was requested", b)


def test_fail_open_missing_config(m):
    """(c) No unloop.conf: defaults, still boots."""
    m.esp_delete("\\EFI\\unloop\\unloop.conf")
    b = m.boot()
    check(b.reached_loader, "missing config: loader not reached", b)
    check("using built-in defaults" in b.text, "missing config not reported", b)


def test_fail_open_corrupt_config(m):
    """(c) A corrupt unloop.conf: every problem reported with its line, still boots."""
    garbage = bytes(range(256)) * 4 + b"\n[unloop]\nthreshold = many\nloader = relative.efi\n"
    m.esp_write("\\EFI\\unloop\\unloop.conf", garbage)
    b = m.boot()
    check(b.reached_loader, "corrupt config: loader not reached", b)
    check("unloop.conf line" in b.text, "config problems not reported with a line", b)
    check("threshold: 'many' is not a number" in b.text, "bad threshold not named", b)
    log = m.esp_read("\\EFI\\unloop\\log").decode("latin-1")
    check("loader: 'relative.efi' must be an absolute path" in log, "log lacks loader error:\n" + log)


def test_fail_open_corrupt_state(m):
    """(c) A corrupt state file: counted from zero, reported, still boots."""
    m.esp_write("\\EFI\\unloop\\state", os.urandom(8192))
    b = m.boot()
    check(b.reached_loader, "corrupt state: loader not reached", b)
    check("is corrupt (no valid slot); counting from zero" in b.text, "corruption not reported", b)
    st = m.status()
    check(st["state"] in ("ok", "degraded") and st["attempts"] == 1,
          "state not rewritten after corruption: %r" % st)


def test_missing_loader_returns_to_firmware(m):
    """The OS loader is missing: unloop says why and returns to the firmware (never hangs)."""
    m.esp_delete("\\EFI\\Microsoft\\Boot\\bootmgfw.efi")
    b = m.boot(stop_on=("returning to the firmware", "BdsDxe"), timeout=60)
    check("the OS loader \\EFI\\Microsoft\\Boot\\bootmgfw.efi is not on this ESP" in b.text,
          "missing loader not explained", b)
    check("returning to the firmware so its next boot option runs" in b.text,
          "no return to firmware", b)
    tail = b.text.split("returning to the firmware", 1)[1]
    check("BdsDxe" in tail, "the firmware did not go on to its next boot option", b)
    log = m.esp_read("\\EFI\\unloop\\log").decode()
    check("is not on this ESP" in log, "log lacks the reason:\n" + log)
    # Let the firmware go on to its next option: OVMF's shell, whose startup.nsh
    # starts unloop again in the same power-on (as other firmware retries
    # \EFI\BOOT\BOOTX64.EFI).  That start must not count as another attempt.
    m.esp_write("\\startup.nsh", b"FS0:\\EFI\\BOOT\\BOOTX64.EFI\r\n")
    b = m.boot(stop_on=("started again in the same power-on", "returning to the firmware"),
               timeout=90)
    check("started again in the same power-on: attempt 2 is not counted twice" in b.text,
          "the firmware's second start of unloop was counted again", b)
    check(m.status()["attempts"] == 2, "attempts: %r, want 2 (one per power-on)"
          % m.status()["attempts"])


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
# Slow (about 6 min): run with --power-cut (make check does, after the others).
POWER_CUT_TESTS = [v for k, v in sorted(globals().items()) if k.startswith("powercut_")]


def run_one(fn):
    name = fn.__name__.split("_", 1)[1]
    m = new_machine(name)
    return harness.run_on(fn, name, m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="run tests whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="VMs at once (default 2)")
    ap.add_argument("--power-cut", action="store_true",
                    help="run the power-cut tests (slow) instead of the others")
    args = ap.parse_args()
    pool = POWER_CUT_TESTS if args.power_cut else TESTS
    tests = [t for t in pool if not args.k or args.k in t.__name__]

    os.makedirs(os.path.dirname(BASE), exist_ok=True)
    conf = os.path.join(harness.BUILD, "qemu", "test.conf")
    with open(conf, "wb") as f:
        f.write(TEST_CONF)
    harness.build_image(BASE, conf=conf)
    build_quarantine_base(conf)
    for img, _, _ in MIDFLIGHT.values():   # built when a test needs one, with this unloop.efi
        path = os.path.join(harness.BUILD, "qemu", img)
        if os.path.exists(path):
            os.remove(path)

    return harness.run_tests("qemu", tests, run_one, args.j, width=60)


if __name__ == "__main__":
    sys.exit(main())
