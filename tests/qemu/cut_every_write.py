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


def main():
    step = int(sys.argv[sys.argv.index("--step") + 1]) if "--step" in sys.argv else 1
    base_img = os.path.join(harness.BUILD, "qemu", "quarantine.img")
    if not os.path.exists(base_img):
        print("cut-every-write: build/qemu/quarantine.img missing: run tests/qemu/test_boot.py first")
        print("cut-every-write: 0 passed, 1 failed")
        return 1
    m = Machine(base_img, os.path.join(harness.BUILD, "qemu", "cut-every-write"))
    clean = m.disk + ".clean"
    shutil.copy(m.disk, clean)
    orig = subprocess.run(["ntfscat", "-f", m.ntfs_image(), BAD.replace("\\", "/")],
                          capture_output=True).stdout
    passed = failed = 0
    n = 0
    try:
        while True:
            shutil.copy(clean, m.disk)
            shutil.copy(harness.OVMF_VARS, m.vars)
            r = subprocess.run([harness.CLI, "quarantine", "--newest", m.disk], capture_output=True,
                               text=True, env=dict(os.environ, UNLOOP_TEST_POWER_CUT_AFTER_WRITES=str(n)))
            if r.returncode != 99:
                print("no write %d: the quarantine has %d device writes" % (n + 1, n))
                break
            m.esp_write("\\EFI\\unloop\\unloop.conf", b"[unloop]\nthreshold = 3\nmenu_timeout = 0\n")
            seed = os.path.join(m.dir, "state.seed")
            subprocess.run([sys.executable, os.path.join(harness.TOP, "tests", "cli", "mkstate.py"),
                            seed, "attempts=2", "first=%d" % int(time.time())], check=True)
            with open(seed, "rb") as f:
                m.esp_write("\\EFI\\unloop\\state", f.read())
            b = m.boot(timeout=60)
            problems = []
            if not b.reached_loader:
                problems.append("the OS loader was not reached" +
                                (" (CPU exception)" if "Exception" in b.text else ""))
            vol = m.ntfs_image()
            j = subprocess.run([harness.CLI, "--json", "journal", m.disk], capture_output=True, text=True)
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
                print("ok   cut after write %d: %s" % (n, "quarantined by unloop.efi" if
                                                       "unloop: quarantined" in b.text else
                                                       "journal replayed"), flush=True)
            n += step
    finally:
        m.cleanup()
    print("cut-every-write: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
