#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make demo: boot loops caught and broken by unloop in QEMU, told as a transcript.

The harness plays Windows: a stub stands in for bootmgfw.efi, and after each
boot the harness decides on the host whether "Windows" reached the desktop
(then it runs `unloop bless` as the OS agent would) or blue-screened (then the
next boot counts as another failed attempt). "Windows" blue-screens while the
faulty CrowdStrike channel file is in place, unless it starts in Safe Mode.
"""
import datetime
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

OUT = os.path.join(harness.BUILD, "demo")
CONF = b"""[unloop]
threshold = 3
menu_timeout = 5
"""
BAD = "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys"


def say(msg=""):
    print(msg, flush=True)


def show(boot, only_unloop=False):
    for line in boot.text.split("\n"):
        s = line.rstrip()
        if not s.strip() or s.startswith("BdsDxe") or "=3h" in s:
            continue
        if only_unloop and not (s.startswith("unloop:") or s.startswith("STUB-LOADER")):
            continue
        say("    | " + s)


def manifest_with_fresh_update(out):
    """The test machine, but the faulty channel file arrived an hour ago."""
    stamp = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    with open(os.path.join(harness.TOP, "images", "test-machine.manifest")) as f, \
            open(out, "w") as g:
        for line in f:
            if line.startswith("file") and "C-00000291-00000000-00000032.sys" in line:
                line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                              stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), line, count=1)
            g.write(line)
    return out


def build(name, conf, manifest=None):
    out = os.path.join(OUT, name + ".img")
    cmd = [os.path.join(harness.TOP, "images", "build-test-machine.sh"), "--out", out,
           "--loader", os.path.join(harness.BUILD, "unloop.efi"),
           "--stub", os.path.join(harness.BUILD, "stub-loader.efi"),
           "--conf", conf, "--bcd", harness.TEST_BCD]
    if manifest:
        cmd += ["--manifest", manifest]
    subprocess.run(cmd, check=True)
    return Machine(out, os.path.join(OUT, name))


def windows_verdict(m, b):
    """True when this boot reached the desktop (and was blessed)."""
    if m.bcd_safeboot() is not None:
        say("  Windows starts in Safe Mode: the faulty driver does not load; the desktop comes up.")
        return True
    if m.ntfs_exists(BAD):
        say("  ** BSOD: PAGE_FAULT_IN_NONPAGED_AREA (csagent.sys) -- the PC restarts **")
        return False
    say("  Windows starts normally: the faulty channel file is gone; the desktop comes up.")
    return True


def main():
    t0 = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    conf = os.path.join(OUT, "unloop.conf")
    with open(conf, "wb") as f:
        f.write(CONF)
    png = os.path.join(OUT, "recovery-menu.png")

    say("== unloop demo: Windows PCs in a boot loop, in QEMU/OVMF (headless) ==")
    say("Test machine: GPT disk; ESP with unloop.efi as \\EFI\\BOOT\\BOOTX64.EFI, a stand-in for")
    say("Windows Boot Manager and a real Windows 10 BCD store; NTFS \"Windows\" volume with")
    say("\\Windows\\System32\\drivers\\CrowdStrike\\. unloop.conf: threshold = 3, menu_timeout = 5")
    say()
    say("=== PC 1: the faulty channel file C-00000291-...-32.sys arrived an hour ago ===")
    m = build("pc1", conf, manifest_with_fresh_update(os.path.join(OUT, "pc1.manifest")))
    fixed = False
    for attempt in range(1, 6):
        say("-- Boot %d --" % attempt)
        b = m.boot(screendump=("any key stops the countdown", png) if attempt == 3 else None)
        show(b, only_unloop=attempt != 3)
        if windows_verdict(m, b):
            r = m.cli("bless")
            say("  The OS agent runs `unloop bless`: " + r.stdout.strip())
            fixed = True
            break
        say()
    if not fixed:
        say("demo: FAILED: the loop was not broken")
        return 1
    say()
    say("-- Boot %d: the next morning --" % (attempt + 1))
    b = m.boot()
    show(b, only_unloop=True)
    say()
    say("-- On the host, what an IT script sees on the disk image --")
    for args in (["journal", m.disk], ["status", "--esp", "(ESP copy)"]):
        if args[0] == "status":
            st = m.status()
            say("  $ unloop --json status   ->  attempts=%d fixed_by=%s last_good=%s"
                % (st["attempts"], st["fixed_by"], st["last_good"]))
            continue
        r = subprocess.run([harness.CLI] + args, capture_output=True, text=True)
        say("  $ unloop journal disk.img")
        for line in r.stdout.splitlines():
            say("    " + line)
    say("  $ unloop restore disk.img   (puts the file back, byte-identical, if it was a mistake)")
    say()

    say("=== PC 2: a loop with no recent third-party content (say, a bad Windows update) ===")
    m2 = build("pc2", conf)
    for attempt in range(1, 4):
        b = m2.boot()
        say("-- Boot %d --" % attempt)
        show(b, only_unloop=True)
        if attempt < 3:
            say("  ** BSOD -- the PC restarts **")
    sb = m2.bcd_safeboot()
    say("  hivex reads the BCD store on the image: safeboot = %s" % sb)
    if sb != 0:
        say("demo: FAILED: Safe Mode was not set")
        return 1
    say("  Windows starts in Safe Mode, where a technician can fix it; the agent blesses the boot:")
    r = m2.cli("bless", with_bcd=True)
    for line in r.stdout.splitlines():
        say("    $ " + line)
    b = m2.boot()
    say("-- Boot 4: Safe Mode was for one boot only --")
    show(b, only_unloop=True)
    say()
    if os.path.exists(png):
        say("Screenshot of the recovery menu on PC 1 (QEMU monitor screendump): %s"
            % os.path.relpath(png, harness.TOP))
    say("demo finished in %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
