#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make demo: a boot loop caught by unloop in QEMU, told as a transcript.

The harness plays Windows: a stub stands in for bootmgfw.efi, and after each
boot the harness decides whether "Windows" reached the desktop (then it runs
`unloop bless` as the OS agent would) or blue-screened (then it does nothing,
and the next boot counts as another failed attempt).
"""
import os
import shutil
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


def main():
    t0 = time.monotonic()
    os.makedirs(OUT, exist_ok=True)
    conf = os.path.join(OUT, "unloop.conf")
    with open(conf, "wb") as f:
        f.write(CONF)
    base = harness.build_image(os.path.join(OUT, "machine.img"), conf=conf)
    m = Machine(base, os.path.join(OUT, "vm"))
    png = os.path.join(OUT, "recovery-menu.png")

    say("== unloop demo: a Windows PC in a boot loop, in QEMU/OVMF (headless) ==")
    say("Test machine: GPT disk, ESP with unloop.efi as \\EFI\\BOOT\\BOOTX64.EFI and a stand-in")
    say("for Windows Boot Manager next to a real Windows 10 BCD store, NTFS volume with")
    say("\\Windows\\System32\\drivers\\CrowdStrike\\.")
    say("unloop.conf: threshold = 3, menu_timeout = 5")
    say()

    say("-- Boot 1: a healthy boot --")
    b = m.boot()
    show(b, only_unloop=True)
    m.bless()
    say("  Windows reached the desktop; its agent ran `unloop bless`:")
    st = m.status()
    say("    attempts=%d last_good=%s" % (st["attempts"], st["last_good"]))
    say()

    say("-- A faulty driver content update arrives (C-00000291-*.sys, 19 July 2024). --")
    say("   From now on every boot blue-screens before the desktop: nobody blesses.")
    say()
    for n in (2, 3):
        say("-- Boot %d: attempt %d --" % (n, n - 1))
        b = m.boot()
        show(b, only_unloop=True)
        say("  ** BSOD: PAGE_FAULT_IN_NONPAGED_AREA (csagent.sys) -- the PC restarts **")
        st = m.status()
        say("  `unloop status --json`: attempts=%d loop_detected=%s next_boot=%s"
            % (st["attempts"], str(st["loop_detected"]).lower(), st["next_boot"]))
        say()

    say("-- Boot 4: attempt 3 = threshold: unloop catches the loop --")
    b = m.boot(screendump=("any key stops the countdown", png))
    show(b)
    say()
    sb = m.bcd_safeboot()
    if not b.menu_shown or not b.reached_loader or sb != 0:
        say("demo: FAILED: the recovery menu, Safe Mode or the hand-off did not happen")
        return 1
    say("  Quarantine (issue #3) is not in this build, so the ladder moved on to Safe Mode:")
    say("  the countdown ran out and unloop set safeboot in the real BCD store on the ESP.")
    say("  hivex reads it back from the disk image: Objects\\{default loader}\\Elements\\"
        "25000080 = %d (minimal)" % sb)
    say("  Windows starts in Safe Mode: the faulty driver does not load, the desktop comes up.")
    say("  (Removing the bad file is the admin's job in Safe Mode until unloop's own quarantine")
    say("  lands.) The OS agent runs `unloop bless` on the mounted ESP:")
    r = m.cli("bless", with_bcd=True)
    for line in r.stdout.splitlines():
        say("    $ " + line)
    say()

    say("-- Boot 5: Safe Mode was for one boot only: a normal boot --")
    b = m.boot()
    show(b, only_unloop=True)
    say("  safeboot in the BCD store now: %s" % ("not set" if m.bcd_safeboot() is None else "SET"))
    say()

    say("-- Boot 6: another loop on a machine with a technician at the keyboard --")
    m.esp_write("\\EFI\\unloop\\unloop.conf", CONF.replace(b"threshold = 3", b"threshold = 1"))
    say("  (threshold lowered to 1 for the demo) '6' Show log, a key, then '1' Continue:")
    b = m.boot(keys=[("any key stops the countdown", b"6"),
                     ("Press any key to return to the menu", b"x"),
                     ("Press 1-8", b"1")])
    text = b.text
    i = text.find("unloop log (newest at the bottom)")
    if i >= 0:
        say("  The log page, as shown on screen (last lines):")
        page = [ln.rstrip() for ln in text[i:].split("Press any key")[0].split("\n") if ln.strip()]
        for line in page[:1] + page[-12:]:
            say("    | " + line)
    say("  ...then:")
    for line in b.unloop_lines()[-3:]:
        say("    | " + line)
    if b.reached_loader:
        say("    | " + harness.STUB_MARKER)
    say()

    st = m.status()
    say("-- `unloop status` (what an IT script sees) --")
    import subprocess
    esp_tmp = os.path.join(OUT, "esp-copy")
    shutil.rmtree(esp_tmp, ignore_errors=True)
    os.makedirs(os.path.join(esp_tmp, "EFI"))
    subprocess.run(["mcopy", "-s", "-n", "-i", "%s@@%d" % (m.disk, m.layout["esp_offset"]),
                    "::/EFI/unloop", os.path.join(esp_tmp, "EFI")],
                   env=dict(os.environ, MTOOLS_SKIP_CHECK="1"), check=True)
    r = subprocess.run([harness.CLI, "status", "--esp", esp_tmp], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        say("    " + line)
    say()
    if os.path.exists(png):
        say("Screenshot of the recovery menu (QEMU monitor screendump): %s"
            % os.path.relpath(png, harness.TOP))
    say("demo finished in %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
