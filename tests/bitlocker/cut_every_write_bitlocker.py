#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A power cut at every device write of a quarantine on a BitLocker volume,
then the next run, on the host with the sanitizers (issue #5; the plain NTFS
version is tests/ntfs/cut_every_write.py, whose checks this repeats).

The test machine is built once, encrypted (images/build-test-machine.sh
--bitlocker, AES-XTS 128).  The CLI quarantines the channel file with the
recovery password and UNLOOP_TEST_POWER_CUT_AFTER_WRITES=N: it dies before
libntfs-3g device write N+1 (recovery/bitlocker-volume.c, which encrypts and
read-modify-writes partial sectors underneath), as a machine losing power
would.  Then the next run, built with ASan/UBSan, with the same key:
  restore    replays the journal and puts the file back: it must end where
             it started, byte-identical;
  quarantine on a second copy, replays and quarantines again: the file must
             be in exactly one place, byte-identical, the journal with no
             half-done entry.
The oracle is dislocker (dislocker-file -V PART -pRP OUT), not unloop: the
channel file is read from dislocker's decryption with ntfscat, and ntfsfix -n
must find the decrypted NTFS volume consistent (cut to the NTFS volume + its
backup boot sector: the volume is 1 MiB shorter than the partition).  No
sanitizer report.  BitLocker's own areas on the raw partition must be
byte-identical to before the cut: the volume header (sector 0), the three
64 KiB metadata copies and the relocated first sectors, their offsets read
from the on-disk format (the header's metadata offsets, then the metadata
block's volume-header offset and sector count [libbde: FVE metadata block
header v2]), not from unloop.

Each CLI run pays a key stretch (~1 s) and each dislocker-file ~1.3 s: a
cut point costs about 11 s of CPU (the quarantine has 65 device writes), so:
  --step K   test every K-th cut point, always including the last one (the
             cut just before the quarantine's final write); make check uses
             --step 6 (12 points, ~140 s CPU, ~70 s on 2 idle cores); the
             full run (--step 1, ~700 s CPU) is the slow variant;
  -j J       J cut points at a time (default: the number of CPUs, at most 2);
  --bek      unlock with a startup key (.BEK, also a protector of the test
             volume) instead of the recovery password, in the CLI and in
             dislocker (-f): no key stretch, ~2 s of CPU a point (--step 1:
             ~125 s CPU); the write path under test is the same.
Prints 'cut-every-write-bitlocker: N passed, N failed'."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "unloop")
ASAN_CLI = os.path.join(TOP, "build", "tests", "ntfs", "unloop-asan")
BAD = "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys"
RP = "235818-357951-253979-013365-241120-245575-342914-591910"
KEY = ["--recovery-password", RP]
DISLOCKER_KEY = ["-p" + RP]
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
META_AREA = 0x10000


def copy(src, dst):
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)


def run(args, env=ENV):
    return subprocess.run(args, capture_output=True, text=True, env=env)


def extract(disk, layout, out):
    subprocess.run(["dd", "if=" + disk, "of=" + out, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % layout["ntfs_offset"], "count=%d" % layout["ntfs_size"],
                    "conv=sparse", "status=none"], check=True)
    return out


def decrypt(part, out):
    """dislocker's decryption of the raw partition, cut to the NTFS volume + its
    backup boot sector (ntfsfix looks for the backup at the end); None if it fails."""
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run(["dislocker-file", "-V", part] + DISLOCKER_KEY + [out], capture_output=True,
                       text=True)
    if r.returncode != 0 or not os.path.exists(out):
        return None
    with open(out, "rb") as f:
        bs = f.read(512)
    os.truncate(out, (int.from_bytes(bs[0x28:0x30], "little") + 1) * 512)
    return out


def cat(vol, path):
    r = subprocess.run(["ntfscat", "-f", vol, path.replace("\\", "/")], capture_output=True)
    return hashlib.sha256(r.stdout).hexdigest() if r.returncode == 0 else None


def consistent(vol):
    r = subprocess.run(["ntfsfix", "-n", vol], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def sanitizer(*rs):
    return [r for r in rs if "Sanitizer" in r.stderr or "runtime error" in r.stderr]


def bitlocker_areas(part):
    """(name, offset, length) of BitLocker's own areas in the raw partition, from the
    format: the volume header (sector 0) holds the three metadata offsets at 0xb0
    [libbde: BitLocker volume header]; a metadata block header v2 holds the number
    of relocated sectors at +28 and their offset at +56 [libbde: FVE metadata block
    header]."""
    with open(part, "rb") as f:
        hdr = f.read(512)
        assert hdr[3:11] == b"-FVE-FS-", "not a BitLocker volume header"
        metas = struct.unpack_from("<3Q", hdr, 0xb0)
        f.seek(metas[0])
        blk = f.read(64)
    assert blk[:8] == b"-FVE-FS-", "no FVE metadata block at %d" % metas[0]
    nsect, = struct.unpack_from("<I", blk, 28)
    reloc, = struct.unpack_from("<Q", blk, 56)
    return ([("volume header", 0, 512)] +
            [("metadata copy %d" % (i + 1), o, META_AREA) for i, o in enumerate(metas)] +
            [("relocated sectors", reloc, nsect * 512)])


def digests(part, areas):
    out = {}
    with open(part, "rb") as f:
        for name, off, length in areas:
            f.seek(off)
            out[name] = hashlib.sha256(f.read(length)).hexdigest()
    return out


class Test:
    def __init__(self, tmp, clean, layout):
        self.tmp, self.clean, self.layout = tmp, clean, layout
        part = extract(clean, layout, os.path.join(tmp, "orig.part"))
        self.areas = bitlocker_areas(part)
        self.before = digests(part, self.areas)
        dec = decrypt(part, os.path.join(tmp, "orig.ntfs"))
        assert dec, "dislocker-file cannot decrypt the clean image"
        self.orig = cat(dec, BAD)
        assert self.orig, "the clean image lacks the channel file"
        for p in (part, dec):
            os.remove(p)

    def cut(self, n):
        """A copy of the machine whose quarantine died before write n+1: (exit code, dir)."""
        d = os.path.join(self.tmp, "p%d" % n)
        os.makedirs(d, exist_ok=True)
        copy(self.clean, os.path.join(d, "d.img"))
        r = run([CLI, "quarantine", "--newest", os.path.join(d, "d.img")] + KEY,
                env=dict(os.environ, UNLOOP_TEST_POWER_CUT_AFTER_WRITES=str(n)))
        if r.returncode != 99:
            self.cut_stderr = r.stderr
        return r.returncode, d

    def check_areas(self, disk, part, when, problems):
        extract(disk, self.layout, part)
        after = digests(part, self.areas)
        changed = [name for name, _, _ in self.areas if after[name] != self.before[name]]
        if changed:
            problems.append("%s BitLocker's own areas changed: %s" % (when, ", ".join(changed)))
        return part

    def check(self, n, d):
        disk, disk2 = os.path.join(d, "d.img"), os.path.join(d, "d2.img")
        part, vol = os.path.join(d, "d.part"), os.path.join(d, "d.ntfs")
        copy(disk, disk2)
        problems = []
        # the state the cut left: BitLocker's areas already untouched
        self.check_areas(disk, part, "after the cut", problems)
        # the next run, as a person or unloop.efi's Restore would
        rj = run([ASAN_CLI, "--json", "journal", disk] + KEY)
        rr = run([ASAN_CLI, "restore", disk] + KEY)
        # exit 1 "nothing was ever quarantined": the cut came before the journal
        if rr.returncode != 0 and "nothing was ever quarantined" not in rr.stderr:
            problems.append("restore exit %d: %s" % (rr.returncode, rr.stderr.strip()))
        self.check_areas(disk, part, "after restore", problems)
        if not decrypt(part, vol):
            problems.append("after restore dislocker-file cannot decrypt the volume")
        else:
            if cat(vol, BAD) != self.orig:
                problems.append("after restore the channel file is not back, byte-identical")
            c, out = consistent(vol)
            if not c:
                problems.append("after restore ntfsfix -n: " + out.strip().splitlines()[-1])
        # the next run, as unloop.efi's next quarantine would
        rq = run([ASAN_CLI, "--json", "quarantine", "--newest", disk2] + KEY)
        rj2 = run([ASAN_CLI, "--json", "journal", disk2] + KEY)
        if rq.returncode != 0 or rj2.returncode != 0:
            problems.append("quarantine exit %d / journal exit %d: %s" %
                            (rq.returncode, rj2.returncode, (rq.stderr + rj2.stderr).strip()))
        else:
            files = json.loads(rj2.stdout)["files"]
            if any(f["state"].startswith("intent") for f in files):
                problems.append("a journal entry is left half done: %r" % files)
            self.check_areas(disk2, part, "after quarantine", problems)
            if not decrypt(part, vol):
                problems.append("after quarantine dislocker-file cannot decrypt the volume")
            else:
                places = [BAD] if cat(vol, BAD) else []
                places += [f["quarantine_path"] for f in files
                           if f["state"] == "quarantined" and f["path"] == BAD
                           and cat(vol, f["quarantine_path"]) == self.orig]
                if len(places) != 1:
                    problems.append("after quarantine the channel file is in %d places: %r"
                                    % (len(places), places))
                c, out = consistent(vol)
                if not c:
                    problems.append("after quarantine ntfsfix -n: " + out.strip().splitlines()[-1])
        bad = sanitizer(rj, rr, rq, rj2)
        if bad:
            problems.append("sanitizer report:\n" + "\n".join(x.stderr for x in bad)[:3000])
        if problems:
            keep = os.path.join(TOP, "build", "cut-bitlocker-after-write-%d.img" % n)
            shutil.copy(os.path.join(d, "d.img"), keep)
        shutil.rmtree(d, ignore_errors=True)
        return problems


def main():
    global KEY, DISLOCKER_KEY
    args = sys.argv[1:]
    step = int(args[args.index("--step") + 1]) if "--step" in args else 1
    jobs = int(args[args.index("-j") + 1]) if "-j" in args else min(2, os.cpu_count() or 1)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="unloop-cut-bl-", dir=os.path.join(TOP, "build"))
    results = {}            # cut point -> problems
    lock = threading.Lock()
    state = {"next": 0, "limit": None, "max99": -1}
    try:
        clean = os.path.join(tmp, "clean.img")
        bek = ["--bitlocker-bek-dir", tmp] if "--bek" in args else []
        subprocess.run([os.path.join(TOP, "images", "build-test-machine.sh"), "--out", clean,
                        "--loader", os.path.join(TOP, "build", "unloop.efi"),
                        "--stub", os.path.join(TOP, "build", "stub-loader.efi"),
                        "--bitlocker", RP] + bek, check=True, stdout=subprocess.DEVNULL)
        if bek:
            f = [os.path.join(tmp, x) for x in os.listdir(tmp) if x.upper().endswith(".BEK")][0]
            KEY, DISLOCKER_KEY = ["--bek", f], ["-f", f]
        layout = {k: int(v) for k, v in (l.strip().split("=") for l in open(clean + ".layout")
                                          if "=" in l)}
        t = Test(tmp, clean, layout)

        def report(n, problems):
            with lock:
                results[n] = problems
                if problems:
                    print("FAIL cut after write %d:\n  %s" % (n, "\n  ".join(problems)), flush=True)
                else:
                    print("ok   cut after write %d" % n, flush=True)

        def worker():
            # Cut points 0, K, 2K, ... handed out in order until one completes
            # without a cut: that one bounds the number of writes.
            while True:
                with lock:
                    n = state["next"]
                    if state["limit"] is not None and n >= state["limit"]:
                        return
                    state["next"] += step
                rc, d = t.cut(n)
                if rc == 99:
                    with lock:
                        state["max99"] = max(state["max99"], n)
                    report(n, t.check(n, d))
                    continue
                shutil.rmtree(d, ignore_errors=True)
                with lock:
                    state["limit"] = n if state["limit"] is None else min(state["limit"], n)
                    if rc != 0:
                        results[-1] = ["the uncut quarantine failed (exit %d): %s"
                                       % (rc, t.cut_stderr.strip())]

        with ThreadPoolExecutor(jobs) as ex:
            for f in [ex.submit(worker) for _ in range(jobs)]:
                f.result()
        # The last cut point (just before the final write) lies in (max99, limit):
        # bisect for it when --step skipped it.
        lo, hi = state["max99"], state["limit"]
        last = None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            rc, d = t.cut(mid)
            if rc == 99:
                if last:
                    shutil.rmtree(last[1], ignore_errors=True)
                lo, last = mid, (mid, d)
            else:
                shutil.rmtree(d, ignore_errors=True)
                hi = mid
        if last:
            report(last[0], t.check(*last))
        print("no write %d: the quarantine has %d device writes" % (hi + 1, hi))
        if -1 in results:
            print("FAIL " + results[-1][0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = sum(1 for p in results.values() if p)
    passed = len(results) - failed
    print("step %d, -j %d%s: %.0f s" % (step, jobs, ", --bek" if "--bek" in args else "",
                                         time.monotonic() - t0))
    print("cut-every-write-bitlocker: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
