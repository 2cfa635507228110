#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, part 2: scanning a Windows volume with 20,000 files under
\\Windows\\System32\\drivers. The CLI's `unloop scan` and `unloop quarantine
--dry-run` next to `ntfsls -R` over the same image in the same run (both
read the volume with libntfs-3g), medians of several runs, and the ratio.
Also the size of unloop.efi."""
import os
import statistics
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
B = os.path.join(TOP, "build", "bench")
FILES = int(os.environ.get("BENCH_FILES", "20000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))


def make_volume(path):
    manifest = path + ".manifest"
    d = "\\Windows\\System32\\drivers"
    with open(manifest, "w") as f:
        n = 0
        # Microsoft-looking files directly in drivers\ and in its own subdirectories
        for i in range(FILES // 2):
            sub = ["", "\\en-US", "\\UMDF", "\\DriverData"][i % 4]
            f.write("file %s%s\\ms%05d.sys 2024-05-14T00:00:00Z text:MZ\n" % (d, sub, i))
            n += 1
        # third-party vendor folders, old content
        vendors = 50
        for i in range(FILES - n - 1):
            f.write("file %s\\Vendor%02d\\content-%05d.bin 2024-06-01T00:00:00Z hex:AAAAAAAA:64\n"
                    % (d, i % vendors, i))
        # and the one bad, recent channel file
        f.write("file %s\\CrowdStrike\\C-00000291-00000000-00000032.sys 2024-07-19T04:09:00Z "
                "zero:41984\n" % d)
    size_mb = 64 + FILES // 200
    subprocess.run(["truncate", "-s", "%dM" % size_mb, path], check=True)
    subprocess.run(["mkntfs", "-F", "-Q", "-q", "-L", "Windows", path], check=True,
                   stderr=subprocess.DEVNULL)
    t = time.monotonic()
    subprocess.run([os.path.join(TOP, "build", "images", "ntfs-populate"), path, manifest],
                   check=True)
    return time.monotonic() - t


def timed(cmd):
    runs = []
    for _ in range(REPS):
        t = time.monotonic()
        r = subprocess.run(cmd, capture_output=True)
        runs.append(time.monotonic() - t)
        if r.returncode != 0:
            raise SystemExit("bench: %s failed: %s" % (cmd, r.stderr.decode()[-500:]))
    return statistics.median(runs), runs


def main():
    os.makedirs(B, exist_ok=True)
    vol = os.path.join(B, "drivers-%d.img" % FILES)
    if not os.path.exists(vol):
        secs = make_volume(vol)
        print("built a volume with %d files under \\Windows\\System32\\drivers in %.1f s"
              % (FILES, secs))
    cli = os.path.join(TOP, "build", "unloop")
    rows = [
        ("ntfsls -R (ntfs-3g, list every name)", ["ntfsls", "-R", "-p", "/Windows/System32/drivers", vol]),
        ("ntfsls -R -l (plus index times, sizes)", ["ntfsls", "-R", "-l", "-p", "/Windows/System32/drivers", vol]),
        ("unloop scan (rules + $SI times)", [cli, "scan", vol]),
        ("unloop quarantine --dry-run", [cli, "quarantine", "--dry-run", vol]),
    ]
    res = [(name, timed(cmd)) for name, cmd in rows]
    base = res[0][1][0]
    print("scan of %d files, median of %d runs each, same image, same run:" % (FILES, REPS))
    for name, (med, runs) in res:
        print("  %-40s %7.3f s   ratio %.2f   runs %s" % (name, med, med / base,
                                                          " ".join("%.3f" % x for x in runs)))
    efi = os.path.join(TOP, "build", "unloop.efi")
    print("size of unloop.efi: %d bytes" % os.path.getsize(efi))
    return 0


if __name__ == "__main__":
    sys.exit(main())
