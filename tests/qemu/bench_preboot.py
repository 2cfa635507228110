#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, part 3: scan + quarantine before Windows starts, on a volume with
20,000 files under \\Windows\\System32\\drivers (issue #3, performance).

The test machine's Windows volume holds the same drivers tree as the CLI's
benchmark (tests/bench/drivers_tree.py). Its "Windows" crashes while the
CrowdStrike channel file is in place. Two boots of that machine are compared,
each a fresh QEMU process under TCG, alternating, BENCH_REPS times:

  quarantine  attempt 3 of a boot loop: unloop.efi opens the Windows volume,
              scans it, and when the countdown (menu_timeout = 0) ends moves
              the newest candidate into \\unloop.quarantine, then hands off;
  healthy     the boot after that one was blessed: attempt 1, no scan.

Each repetition starts from the same disk image. The first two crashing boots
are not booted: their state is written to the ESP with tests/cli/mkstate.py
(attempts = 2, first failed attempt 2024-07-19 05:00 by the firmware clock),
so that the channel file of 04:09 that morning is recent whatever the host's
date. After each quarantine boot the script checks on the image that the
channel file moved with its content, that nothing else under drivers\\ changed
(names, inode numbers, sizes, dates; content and $STANDARD_INFORMATION times
of a sample) and that ntfsfix -n finds the volume consistent: the figures are
never those of a failure.

Figures: host time from QEMU start to the stub loader's marker (medians,
difference, ratio); unloop's own time from entry to StartImage measured in the
guest (log_level = debug); the phases of the quarantine boot from the times
its console lines reached the host; in-guest scan and quarantine times when
unloop.efi prints them (TIMING_LINES).

The disk image is cached in build/bench/, keyed by the drivers tree and the
image tools; unloop.efi, the stub and the config are copied onto its ESP at
every run, so a rebuilt unloop.efi is always the one measured.
Env: BENCH_REPS (default 5), BENCH_FILES (default 20000), BENCH_VERBOSE=1
(print each quarantine boot's unloop lines), BENCH_UNLOOP_EFI (another
unloop.efi to measure; default build/unloop.efi).
"""
import calendar
import hashlib
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import drivers_tree  # noqa: E402
import harness  # noqa: E402
from harness import Machine  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "5"))
FILES = int(os.environ.get("BENCH_FILES", "20000"))
VERBOSE = os.environ.get("BENCH_VERBOSE") == "1"
# another build of unloop.efi to measure, e.g. one with extra timing lines
EFI = os.environ.get("BENCH_UNLOOP_EFI", os.path.join(harness.BUILD, "unloop.efi"))
OUT = os.path.join(harness.BUILD, "bench")
WORK = os.path.join(OUT, "preboot")

CONF = b"""[unloop]
threshold = 3
menu_timeout = 0
log_level = debug
"""
# Two failed boots on the morning of 19 July 2024 (firmware clock, zone unknown).
FIRST_ATTEMPT = calendar.timegm((2024, 7, 19, 5, 0, 0))
BAD = drivers_tree.BAD

# Console lines whose arrival on the host marks a phase of the quarantine boot,
# in the order unloop.efi prints them.
M_OPENED = "Windows volume opened for quarantine"
M_SCANNED = "recent candidate"               # "scan: 1 recent candidate (N files match ...)"
M_MOVED = "unloop: quarantined "
M_STUB = harness.STUB_MARKER
M_START = "BdsDxe: starting"                # OVMF, just before unloop.efi runs
WATCH = (M_START, M_OPENED, M_SCANNED, M_MOVED)

OWN = re.compile(r"time from entry to StartImage: (\d+) us")
# In-guest timings of the scan and the move, if this unloop.efi prints them
# (debug lines around ul_scan() and ul_quarantine() in shared/run.c; not in
# every build): name -> pattern.
TIMING_LINES = {
    "scan (in guest)": re.compile(r"time to scan the Windows volume: (\d+) us"),
    "quarantine (in guest)": re.compile(r"time to quarantine: (\d+) us"),
}
SAMPLE = [  # one file per kind of place; content and $SI times must not change
    drivers_tree.DRIVERS + "\\ms00000.sys",
    drivers_tree.DRIVERS + "\\en-US\\ms00001.sys",
    drivers_tree.DRIVERS + "\\UMDF\\ms00002.sys",
    drivers_tree.DRIVERS + "\\DriverData\\ms00003.sys",
    drivers_tree.DRIVERS + "\\Vendor00\\content-00000.bin",
]


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def base_image():
    """The test machine with the drivers tree, built once per key."""
    top = harness.TOP
    script = os.path.join(top, "images", "build-test-machine.sh")
    tools = [os.path.join(harness.BUILD, "images", t) for t in ("mkgpt", "ntfs-populate")]
    size_mib = max(256, 184 + FILES // 200)    # ESP 100 + MSR 16 + NTFS as in bench_scan.py
    k = drivers_tree.key(FILES, size_mib, *[sha(p) for p in [script, harness.TEST_BCD] + tools])
    img = os.path.join(OUT, "preboot-%d-%s.img" % (FILES, k))
    if os.path.exists(img) and os.path.exists(img + ".layout"):
        return img, None
    for name in os.listdir(OUT):       # older keys: 256 MiB each
        if name.startswith("preboot-%d-" % FILES):
            os.unlink(os.path.join(OUT, name))
    manifest = drivers_tree.write_manifest(img + ".manifest", FILES)
    conf = os.path.join(OUT, "preboot.conf")
    with open(conf, "wb") as f:
        f.write(CONF)
    t = time.monotonic()
    # build-test-machine.sh writes DISK.img last, by rename: never half built
    subprocess.run([script, "--out", img, "--loader", os.path.join(harness.BUILD, "unloop.efi"),
                    "--stub", os.path.join(harness.BUILD, "stub-loader.efi"), "--conf", conf,
                    "--bcd", harness.TEST_BCD, "--manifest", manifest, "--size", str(size_mib)],
                   check=True, cwd=top)
    return img, time.monotonic() - t


class Bench:
    def __init__(self, img):
        self.m = Machine(img, WORK)
        m = self.m
        # what is measured is always the current build
        with open(EFI, "rb") as f:
            efi = f.read()
        m.esp_write("\\EFI\\BOOT\\BOOTX64.EFI", efi)
        m.esp_write("\\EFI\\unloop\\unloop.efi", efi)
        with open(os.path.join(harness.BUILD, "stub-loader.efi"), "rb") as f:
            m.esp_write("\\EFI\\Microsoft\\Boot\\bootmgfw.efi", f.read())
        m.esp_write("\\EFI\\unloop\\unloop.conf", CONF)
        self.ready = os.path.join(m.dir, "ready.img")
        subprocess.run(["cp", "--sparse=always", m.disk, self.ready], check=True)
        vol = m.ntfs_image()
        self.tree = self.drivers_tree(vol)
        self.bad = self.cat(vol, BAD)
        listed = drivers_tree.manifest(FILES)
        self.sample = {p: (self.cat(vol, p), si_times(vol, p)) for p in SAMPLE
                       if "file %s " % p in listed}
        if len(self.bad) != drivers_tree.BAD_SIZE:
            raise SystemExit("bench: the image lacks %s" % BAD)
        state = os.path.join(m.dir, "state.looping")
        subprocess.run([sys.executable, os.path.join(harness.TOP, "tests", "cli", "mkstate.py"),
                        state, "attempts=2", "boots=2", "first=%d" % FIRST_ATTEMPT,
                        "last=%d" % (FIRST_ATTEMPT + 90)], check=True)
        with open(state, "rb") as f:
            self.looping_state = f.read()

    @staticmethod
    def cat(vol, path):
        return subprocess.run(["ntfscat", "-f", vol, path.replace("\\", "/")],
                              capture_output=True).stdout

    @staticmethod
    def drivers_tree(vol):
        """Every name under drivers\\ with inode, size and date, but CrowdStrike's."""
        out = subprocess.run(["ntfsls", "-f", "-R", "-l", "-i", "-p",
                              drivers_tree.DRIVERS.replace("\\", "/"), vol],
                             capture_output=True, text=True, check=True).stdout
        keep, skip = [], False
        for line in out.splitlines():
            if line and not line.startswith(" "):       # "/Windows/...drivers<dir>:" header
                skip = "CrowdStrike" in line
            if not skip and "CrowdStrike" not in line:
                keep.append(line)
        return keep

    def reset(self, looping):
        subprocess.run(["cp", "--sparse=always", self.ready, self.m.disk], check=True)
        if looping:
            self.m.esp_write("\\EFI\\unloop\\state", self.looping_state)

    def boot(self, what):
        b = self.m.boot(timeout=180, watch=WATCH)
        if not b.reached_loader:
            fail("the %s boot did not reach the stub loader" % what, b)
        return b

    def check_quarantine(self, b):
        """The channel file moved, with its content; nothing else changed."""
        if "boot loop detected: attempt 3" not in b.text:
            fail("the looping boot was not attempt 3", b)
        if "countdown expired, default 'Quarantine the newest" not in b.text:
            fail("the countdown did not choose quarantine", b)
        moved = [ln for ln in b.text.split("\n") if M_MOVED in ln and " -> " in ln]
        if len(moved) != 1:
            fail("want one 'quarantined' line, got %d" % len(moved), b)
        src, _, dst = moved[0].split(M_MOVED, 1)[1].partition(" -> ")
        if src.strip().lower() != BAD.lower():
            fail("quarantined %s, want %s" % (src, BAD), b)
        m = self.m
        vol = m.ntfs_image()
        if m.ntfs_exists(BAD, vol):
            fail("the channel file is still in place on the image", b)
        if self.cat(vol, dst.strip()) != self.bad:
            fail("the quarantined file %s differs from the channel file" % dst.strip(), b)
        tree = self.drivers_tree(vol)
        if tree != self.tree:
            diff = [ln for ln in tree if ln not in self.tree][:5] + \
                   ["-" + ln for ln in self.tree if ln not in tree][:5]
            fail("something else under drivers\\ changed: %s" % diff, b)
        for p, (data, times) in self.sample.items():
            if self.cat(vol, p) != data or si_times(vol, p) != times:
                fail("%s changed (content or $STANDARD_INFORMATION times)" % p, b)
        if not m.ntfs_consistent(vol):
            fail("ntfsfix -n finds the volume inconsistent after the quarantine", b)


def si_times(vol, path):
    out = subprocess.run(["ntfsinfo", "-f", "-F", path.replace("\\", "/"), vol],
                         capture_output=True, text=True, env=dict(os.environ, TZ="UTC")).stdout
    return [ln.split(":", 1)[1].strip() for ln in out.splitlines()
            if ln.strip().startswith(("File Creation Time", "File Altered Time",
                                      "MFT Changed Time", "Last Accessed Time"))][:4]


def fail(what, b=None):
    msg = "bench: " + what
    if b is not None:
        msg += "\n--- serial transcript ---\n" + b.text[-4000:]
    raise SystemExit(msg)


def own_time(b):
    mo = OWN.search(b.text)
    return int(mo.group(1)) if mo else None


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def runs(xs, fmt="%.2f"):
    return " ".join(fmt % x for x in xs)


def main():
    if REPS < 1:
        raise SystemExit("bench: BENCH_REPS must be at least 1")
    os.makedirs(WORK, exist_ok=True)
    t_all = time.monotonic()
    img, built = base_image()
    if built is not None:
        print("built the test machine with %d files under %s in %.1f s (cached as build/bench/%s)"
              % (FILES, drivers_tree.DRIVERS, built, os.path.basename(img)), flush=True)
    bench = Bench(img)
    q, h, q_own, h_own, phases = [], [], [], [], []
    guest = {k: [] for k in TIMING_LINES}
    matched = None
    try:
        # Warm-up: OVMF's first boot on fresh NVRAM enumerates boot options.
        bench.reset(looping=False)
        bench.boot("warm-up")
        for i in range(REPS):
            bench.reset(looping=True)
            b = bench.boot("quarantine")
            bench.check_quarantine(b)
            if VERBOSE:
                print("\n".join("    | " + ln for ln in b.unloop_lines()), flush=True)
            q.append(b.marks[M_STUB])
            if own_time(b) is not None:
                q_own.append(own_time(b))
            mk = b.marks
            if all(k in mk for k in WATCH):
                phases.append((mk[M_OPENED] - mk[M_START], mk[M_SCANNED] - mk[M_OPENED],
                               mk[M_MOVED] - mk[M_SCANNED], mk[M_STUB] - mk[M_MOVED]))
            for k, pat in TIMING_LINES.items():
                mo = pat.search(b.text)
                if mo:
                    guest[k].append(int(mo.group(1)))
            mo = re.search(r"\((\d+) files match the rules\)", b.text)
            matched = int(mo.group(1)) if mo else matched

            bench.m.bless()             # "Windows" reached the desktop
            b = bench.boot("healthy")
            if b.menu_shown or M_OPENED in b.text:
                fail("the boot after bless opened the Windows volume or showed the menu", b)
            if "attempt 1 of 3" not in b.text:
                fail("the boot after bless is not attempt 1", b)
            h.append(b.marks[M_STUB])
            if own_time(b) is not None:
                h_own.append(own_time(b))
    finally:
        bench.m.cleanup()

    mq, mh = med(q), med(h)
    print("pre-boot scan + quarantine, %d files under %s: %d boots each (after one warm-up), "
          "alternating, QEMU/OVMF under TCG" % (FILES, drivers_tree.DRIVERS, REPS))
    print("  %-46s median %6.3f s   runs %s" % ("healthy boot (attempt 1, after bless)", mh, runs(h)))
    print("  %-46s median %6.3f s   runs %s" % ("looping boot: scan + quarantine (attempt 3)", mq,
                                                runs(q)))
    print("  difference %+.3f s per boot, ratio %.2f   (spread of the healthy runs %.3f s)"
          % (mq - mh, mq / mh, max(h) - min(h)))
    if q_own and h_own:
        print("  unloop entry -> StartImage (in guest): healthy median %d us, looping median %d us"
              % (med(h_own), med(q_own)))
    else:
        print("  unloop entry -> StartImage: not reported")
    for k, xs in guest.items():
        if xs:
            print("  %-46s median %d us   runs %s" % (k, med(xs), runs(xs, "%d")))
    if phases:
        p = [med([x[i] for x in phases]) for i in range(4)]
        print("  looping boot by console lines (host clock, medians): unloop started -> volume "
              "opened %.2f s, -> journal + scan done %.2f s, -> file moved %.2f s, -> stub loader "
              "%.2f s" % tuple(p))
        scan = guest["scan (in guest)"]
        per = med(scan) / FILES if scan else p[1] * 1e6 / FILES
        print("  scan: %s files matched the rules; %.0f us per file under drivers\\ (%s)"
              % (matched if matched is not None else "?", per,
                 "in guest" if scan else "journal + scan, host clock"))
    print("  checked after each looping boot: channel file moved byte-identical, the rest of "
          "drivers\\ unchanged, ntfsfix -n clean (%.0f s in all)" % (time.monotonic() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
