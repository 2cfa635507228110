#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, part 2: scanning a Windows volume with 20,000 files under
\\Windows\\System32\\drivers. The CLI's `unloop scan` and `unloop quarantine
--dry-run` next to `ntfsls -R` over the same image in the same run (both
read the volume with libntfs-3g), medians of several runs, and the ratio.
Also the size of unloop.efi. The tree is tests/bench/drivers_tree.py, shared
with the pre-boot half, tests/qemu/bench_preboot.py."""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import drivers_tree  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
B = os.path.join(TOP, "build", "bench")
FILES = int(os.environ.get("BENCH_FILES", "20000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))


def make_volume(path):
    """Build the volume under a temporary name: an interrupted build is never
    taken for a cached one."""
    tmp = path + ".tmp"
    manifest = drivers_tree.write_manifest(path + ".manifest", FILES)
    size_mb = 64 + FILES // 200
    if os.path.exists(tmp):
        os.unlink(tmp)
    subprocess.run(["truncate", "-s", "%dM" % size_mb, tmp], check=True)
    subprocess.run(["mkntfs", "-F", "-Q", "-q", "-L", "Windows", tmp], check=True,
                   stderr=subprocess.DEVNULL)
    t = time.monotonic()
    subprocess.run([os.path.join(TOP, "build", "images", "ntfs-populate"), tmp, manifest],
                   check=True)
    secs = time.monotonic() - t
    # older builds of the same size (another generator or ntfs-populate)
    for name in os.listdir(B):
        if name.startswith(("drivers-%d." % FILES, "drivers-%d-" % FILES)) and \
                name.endswith((".img", ".img.manifest")) and \
                not name.startswith(os.path.basename(path)):
            os.unlink(os.path.join(B, name))
    os.replace(tmp, path)
    return secs


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
    # keyed by the generator's output and the tool that writes it
    populate = os.path.join(TOP, "build", "images", "ntfs-populate")
    with open(populate, "rb") as f:
        k = drivers_tree.key(FILES, f.read())
    vol = os.path.join(B, "drivers-%d-%s.img" % (FILES, k))
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
