#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A power cut at every device write of a quarantine, then the next run, on
the host with the sanitizers (the QEMU version is tests/qemu/cut_every_write.py).

The CLI quarantines the channel file of the test machine with
UNLOOP_TEST_POWER_CUT_AFTER_WRITES=N: it dies before its write N+1, as a
machine losing power would (libntfs-3g keeps no journal of its own).  Then
the next run, built with ASan/UBSan, acts on that image the way the two
next runs of unloop would:
  restore    replays the journal (finishes or rolls back the cut move) and
             puts the file back: it must end where it started, byte-identical;
  quarantine on a second copy, replays and quarantines again: the file must
             be in exactly one place, the journal with no half-done entry.
Both must leave a volume ntfsfix -n finds consistent, with no sanitizer
report.  N runs from 0 until the quarantine completes without a cut.
Prints 'cut-every-write-cli: N passed, N failed'."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "unloop")
ASAN_CLI = os.path.join(TOP, "build", "tests", "ntfs", "unloop-asan")
BAD = "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys"
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")


def copy(src, dst):
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)


def run(args, env=ENV):
    return subprocess.run(args, capture_output=True, text=True, env=env)


def extract(disk, layout, out):
    subprocess.run(["dd", "if=" + disk, "of=" + out, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % layout["ntfs_offset"], "count=%d" % layout["ntfs_size"],
                    "conv=sparse", "status=none"], check=True)
    return out


def cat(vol, path):
    r = subprocess.run(["ntfscat", "-f", vol, path.replace("\\", "/")], capture_output=True)
    return hashlib.sha256(r.stdout).hexdigest() if r.returncode == 0 else None


def consistent(vol):
    r = subprocess.run(["ntfsfix", "-n", vol], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def sanitizer(*rs):
    return any("Sanitizer" in r.stderr or "runtime error" in r.stderr for r in rs)


def main():
    step = int(sys.argv[sys.argv.index("--step") + 1]) if "--step" in sys.argv else 1
    tmp = tempfile.mkdtemp(prefix="unloop-cut-", dir=os.path.join(TOP, "build"))
    passed = failed = 0
    try:
        clean = os.path.join(tmp, "clean.img")
        subprocess.run([os.path.join(TOP, "images", "build-test-machine.sh"), "--out", clean,
                        "--loader", os.path.join(TOP, "build", "unloop.efi"),
                        "--stub", os.path.join(TOP, "build", "stub-loader.efi")],
                       check=True, stdout=subprocess.DEVNULL)
        layout = {k: int(v) for k, v in (l.strip().split("=") for l in open(clean + ".layout")
                                          if "=" in l)}
        orig = cat(extract(clean, layout, os.path.join(tmp, "orig.ntfs")), BAD)
        disk, disk2 = os.path.join(tmp, "d.img"), os.path.join(tmp, "d2.img")
        vol = os.path.join(tmp, "d.ntfs")
        n = 0
        while True:
            copy(clean, disk)
            r = run([CLI, "quarantine", "--newest", disk],
                    env=dict(os.environ, UNLOOP_TEST_POWER_CUT_AFTER_WRITES=str(n)))
            if r.returncode != 99:
                print("no write %d: the quarantine has %d device writes" % (n + 1, n))
                break
            copy(disk, disk2)
            problems = []
            # the next run, as a person or unloop.efi's Restore would
            rj = run([ASAN_CLI, "--json", "journal", disk])
            rr = run([ASAN_CLI, "restore", disk])
            # exit 1 "nothing was ever quarantined": the cut came before the journal
            if rr.returncode != 0 and "nothing was ever quarantined" not in rr.stderr:
                problems.append("restore exit %d: %s" % (rr.returncode, rr.stderr.strip()))
            extract(disk, layout, vol)
            if cat(vol, BAD) != orig:
                problems.append("after restore the channel file is not back, byte-identical")
            c, out = consistent(vol)
            if not c:
                problems.append("after restore ntfsfix -n: " + out.strip().splitlines()[-1])
            # the next run, as unloop.efi's next quarantine would
            rq = run([ASAN_CLI, "--json", "quarantine", "--newest", disk2])
            rj2 = run([ASAN_CLI, "--json", "journal", disk2])
            if rq.returncode != 0 or rj2.returncode != 0:
                problems.append("quarantine exit %d / journal exit %d: %s" %
                                (rq.returncode, rj2.returncode, (rq.stderr + rj2.stderr).strip()))
            else:
                files = json.loads(rj2.stdout)["files"]
                if any(f["state"].startswith("intent") for f in files):
                    problems.append("a journal entry is left half done: %r" % files)
                extract(disk2, layout, vol)
                places = [BAD] if cat(vol, BAD) else []
                places += [f["quarantine_path"] for f in files
                           if f["state"] == "quarantined" and f["path"] == BAD
                           and cat(vol, f["quarantine_path"]) == orig]
                if len(places) != 1:
                    problems.append("after quarantine the channel file is in %d places: %r"
                                    % (len(places), places))
                c, out = consistent(vol)
                if not c:
                    problems.append("after quarantine ntfsfix -n: " + out.strip().splitlines()[-1])
            if sanitizer(rj, rr, rq, rj2):
                problems.append("sanitizer report:\n" + "\n".join(
                    x.stderr for x in (rj, rr, rq, rj2) if "Sanitizer" in x.stderr or
                    "runtime error" in x.stderr)[:3000])
            if problems:
                failed += 1
                print("FAIL cut after write %d:\n  %s" % (n, "\n  ".join(problems)), flush=True)
            else:
                passed += 1
                print("ok   cut after write %d" % n, flush=True)
            n += step
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("cut-every-write-cli: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
