#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Power cut at every device write of a quarantine, then the next boot in QEMU.

The CLI quarantines the channel file on a copy of the test machine with
UNLOOP_TEST_POWER_CUT_AFTER_WRITES=N: the process dies before its write N+1,
as a machine losing power would (libntfs-3g keeps no journal of its own).
Then unloop.efi boots that image on a looping attempt: it must reach the OS
loader (fail open), finish or roll back the interrupted quarantine from the
journal, and leave the file in exactly one place, byte-identical, with the
volume consistent for ntfsfix -n. N runs from 0 until the quarantine
completes without a cut. Prints 'cut-every-write: N passed, N failed'.
Usage: cut_every_write.py [--step K] (test every K-th write point)."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

BAD = "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys"
RP = "235818-357951-253979-013365-241120-245575-342914-591910"


class BitLocker:
    """The --bitlocker variant's image, key file and oracle (dislocker)."""

    def __init__(self):
        sys.path.insert(0, os.path.join(harness.TOP, "tests", "bitlocker"))
        import cut_every_write_bitlocker as host  # noqa: E402
        import test_boot  # noqa: E402
        self.host = host
        d = os.path.join(harness.BUILD, "qemu")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "test.conf")
        with open(conf, "wb") as f:
            f.write(test_boot.TEST_CONF)
        self.base = os.path.join(d, "cut-every-write-bitlocker.img")
        test_boot.build_quarantine_base(conf, self.base, ["--bitlocker", RP])
        r = subprocess.run([harness.CLI, "--json", "bitlocker", "info", self.base],
                           capture_output=True, text=True, check=True)
        pid = [p["guid"] for p in json.loads(r.stdout)["protectors"]
               if p["type"] == "recovery-password"][0].upper()
        self.csv = ('#TYPE Selected.Microsoft.ActiveDirectory.Management.ADObject\r\n'
                    '"Name","msFVE-RecoveryPassword","DistinguishedName"\r\n'
                    '"2024-07-18T09:00:01-00:00{%s}","%s","CN=...,CN=PC1"\r\n'
                    % (pid, RP)).encode()

    def start(self, m):
        part = m.ntfs_image()
        self.areas = self.host.bitlocker_areas(part)
        self.before = self.host.digests(part, self.areas)

    def key(self):
        return ["--recovery-password", RP]

    def prepare(self, m):
        m.esp_write("\\EFI\\unloop\\keys\\recovery-keys.csv", self.csv)

    def volume(self, m, problems):
        """The decrypted NTFS volume (None if dislocker cannot), BitLocker's areas checked."""
        part = m.ntfs_image()
        after = self.host.digests(part, self.areas)
        changed = [n for n, _, _ in self.areas if after[n] != self.before[n]]
        if changed:
            problems.append("BitLocker's own areas changed: " + ", ".join(changed))
        vol = self.host.decrypt(part, part + ".dec")
        if not vol:
            problems.append("dislocker-file cannot decrypt the volume")
        return vol


def main():
    step = int(sys.argv[sys.argv.index("--step") + 1]) if "--step" in sys.argv else 1
    bl = BitLocker() if "--bitlocker" in sys.argv else None
    prefix = "cut-every-write-bitlocker-qemu" if bl else "cut-every-write"
    t0 = time.monotonic()
    base_img = bl.base if bl else os.path.join(harness.BUILD, "qemu", "quarantine.img")
    if not os.path.exists(base_img):
        print("cut-every-write: build/qemu/quarantine.img missing: run tests/qemu/test_boot.py first")
        print("cut-every-write: 0 passed, 1 failed")
        return 1
    m = Machine(base_img, os.path.join(harness.BUILD, "qemu", prefix))
    clean = m.disk + ".clean"
    shutil.copy(m.disk, clean)
    if bl:
        bl.start(m)
        vol = bl.volume(m, [])
    else:
        vol = m.ntfs_image()
    orig = subprocess.run(["ntfscat", "-f", vol, BAD.replace("\\", "/")],
                          capture_output=True).stdout
    passed = failed = 0
    n = 0
    try:
        while True:
            shutil.copy(clean, m.disk)
            shutil.copy(harness.OVMF_VARS, m.vars)
            r = subprocess.run([harness.CLI, "quarantine", "--newest", m.disk] +
                               (bl.key() if bl else []), capture_output=True,
                               text=True, env=dict(os.environ, UNLOOP_TEST_POWER_CUT_AFTER_WRITES=str(n)))
            if r.returncode != 99:
                print("no write %d: the quarantine has %d device writes" % (n + 1, n))
                break
            m.esp_write("\\EFI\\unloop\\unloop.conf", b"[unloop]\nthreshold = 3\nmenu_timeout = 0\n")
            if bl:
                bl.prepare(m)
            seed = os.path.join(m.dir, "state.seed")
            subprocess.run([sys.executable, os.path.join(harness.TOP, "tests", "cli", "mkstate.py"),
                            seed, "attempts=2", "first=%d" % int(time.time())], check=True)
            with open(seed, "rb") as f:
                m.esp_write("\\EFI\\unloop\\state", f.read())
            # unloop.efi stretches the recovery password (TCG: a minute or more)
            b = m.boot(timeout=300 if bl else 60)
            problems = []
            if not b.reached_loader:
                problems.append("the OS loader was not reached" +
                                (" (CPU exception)" if "Exception" in b.text else ""))
            vol = bl.volume(m, problems) if bl else m.ntfs_image()
            if vol is None:
                vol = "/nonexistent"
            j = subprocess.run([harness.CLI, "--json", "journal", m.disk] + (bl.key() if bl else []),
                               capture_output=True, text=True)
            files = json.loads(j.stdout)["files"] if j.returncode == 0 else []
            if j.returncode != 0:
                problems.append("journal unreadable: " + j.stderr.strip())
            if any(f["state"].startswith("intent") for f in files):
                problems.append("an intent is left: %r" % files)
            places = [BAD] if m.ntfs_exists(BAD, vol) else []
            places += [f["quarantine_path"] for f in files
                       if f["state"] == "quarantined" and m.ntfs_exists(f["quarantine_path"], vol)]
            if len(places) != 1:
                problems.append("the file is in %d places: %r" % (len(places), places))
            elif subprocess.run(["ntfscat", "-f", vol, places[0].replace("\\", "/")],
                                capture_output=True).stdout != orig:
                problems.append("content changed")
            if not m.ntfs_consistent(vol):
                problems.append("ntfsfix -n: inconsistent")
            if problems:
                failed += 1
                print("FAIL cut after write %d: %s" % (n, "; ".join(problems)), flush=True)
                keep = os.path.join(harness.BUILD, "qemu", "cut-after-write-%d" % n)
                shutil.copy(m.disk, keep + ".img")
                with open(keep + ".txt", "w") as f:
                    f.write(b.text)
            else:
                passed += 1
                print("ok   cut after write %d: %s (boot %.0f s)" % (
                    n, "quarantined by unloop.efi" if "unloop: quarantined" in b.text else
                    "journal replayed", b.elapsed), flush=True)
            n += step
    finally:
        m.cleanup()
    print("step %d: %.0f s" % (step, time.monotonic() - t0))
    print("%s: %d passed, %d failed" % (prefix, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
