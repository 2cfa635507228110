#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The CLI's scan / quarantine / restore / journal on real NTFS volumes,
with the ntfs-3g tools (ntfsls, ntfscat, ntfsinfo, ntfsfix) as the oracle:
the test machine's disk image (GPT, partition found by \\Windows\\System32)
and the Windows-formatted volume in ../shared/testdata/ntfs/.
Prints 'quarantine: N passed, N failed'."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "unloop")
CS = "\\Windows\\System32\\drivers\\CrowdStrike\\"
BAD = CS + "C-00000291-00000000-00000032.sys"


def cli(*args):
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True)
    try:
        r.json = json.loads(r.stdout) if "--json" in args and r.stdout.strip() else None
    except ValueError:
        r.json = None
    return r


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extract(disk, layout, out):
    """The NTFS partition as its own file (ntfs-3g tools take no offset)."""
    subprocess.run(["dd", "if=" + disk, "of=" + out, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % layout["ntfs_offset"], "count=%d" % layout["ntfs_size"],
                    "conv=sparse", "status=none"], check=True)
    return out


def ntfs_path(p):
    return p.replace("\\", "/")


def exists(vol, p):
    """ntfsls lists the parent directory (ntfsinfo exits 0 even when it fails)."""
    d, _, name = ntfs_path(p).rpartition("/")
    r = subprocess.run(["ntfsls", "-f", "-p", d or "/", vol], capture_output=True, text=True)
    return r.returncode == 0 and name in r.stdout.split("\n")


def content_sha(vol, p):
    r = subprocess.run(["ntfscat", "-f", vol, ntfs_path(p)], capture_output=True)
    return hashlib.sha256(r.stdout).hexdigest() if r.returncode == 0 else None


def times(vol, p):
    r = subprocess.run(["ntfsinfo", "-f", "-F", ntfs_path(p), vol], capture_output=True,
                       text=True, env=dict(os.environ, TZ="UTC"))
    return [l.split(":", 1)[1].strip() for l in r.stdout.splitlines()
            if l.strip().startswith(("File Creation Time", "File Altered Time",
                                     "MFT Changed Time", "Last Accessed Time"))][:4]


def consistent(vol):
    r = subprocess.run(["ntfsfix", "-n", vol], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def test_machine(tmp):
    disk = os.path.join(tmp, "disk.img")
    subprocess.run([os.path.join(TOP, "images", "build-test-machine.sh"), "--out", disk,
                    "--loader", os.path.join(TOP, "build", "unloop.efi"),
                    "--stub", os.path.join(TOP, "build", "stub-loader.efi")], check=True)
    layout = dict(l.strip().split("=") for l in open(disk + ".layout") if "=" in l)
    layout = {k: int(v) for k, v in layout.items()}
    vol = os.path.join(tmp, "ntfs.img")
    orig = extract(disk, layout, os.path.join(tmp, "orig.img"))
    orig_sha = content_sha(orig, BAD)
    orig_times = times(orig, BAD)

    r = cli("--json", "scan", disk)
    ok("scan finds the Windows partition (3) by \\Windows\\System32", r.returncode == 0 and
       r.json and r.json["partition"] == 3, r.stderr)
    paths = [c["path"] for c in (r.json or {}).get("candidates", [])]
    ok("scan on a bare disk: the bad channel file first, 24 h before it counts as recent",
       paths[:1] == [BAD] and r.json["recent_because"].startswith("newest match"), r.stdout)
    ok("scan: the faulty file is reported all-zero", r.json and r.json["candidates"][0]["all_zero"])
    ok("scan: Microsoft's files are never candidates",
       not any("ntfs.sys" in p.lower() or "disk.sys" in p.lower() for p in paths), paths)

    r = cli("--json", "scan", "--since", "2024-07-19T00:00:00Z", disk)
    ok("--since 2024-07-19: only the faulty file", [c["path"] for c in r.json["candidates"]] == [BAD],
       r.stdout)
    r = cli("--json", "scan", "--since", "2024-01-01", disk)
    allp = [c["path"] for c in (r.json or {}).get("candidates", [])]
    vendors = ("CrowdStrike", "ExampleVendor", "Intel", "NVIDIA", "Realtek", "SentinelOne")
    ok("everything since 2024-01-01: only third-party vendor folders, none of the ~300 "
       "Microsoft drivers, en-US, UMDF, etc or DriverData files",
       len(allp) == 13 and all(p.split("\\")[4] in vendors for p in allp), allp)
    r = cli("--json", "scan", "--since", "2024-07-01", "--rule", "vendor-drivers", disk)
    vp = [c["path"] for c in r.json["candidates"]]
    ok("--rule vendor-drivers: the vendor file, not the CrowdStrike rule's",
       any("ExampleVendor" in p for p in vp), vp)

    before = sha(disk)
    r = cli("quarantine", "--dry-run", disk)
    ok("quarantine --dry-run lists and changes nothing", r.returncode == 0 and sha(disk) == before,
       r.stderr)

    r = cli("--json", "quarantine", "--newest", disk)
    ok("quarantine --newest exits 0", r.returncode == 0, r.stderr)
    ok("quarantine moved exactly one file", r.json and r.json["moved"] == 1, r.stdout)
    run = r.json["run"] if r.json else ""
    extract(disk, layout, vol)
    qpath = "\\unloop.quarantine\\" + run + BAD
    ok("ntfs-3g: the file is gone from drivers\\CrowdStrike", not exists(vol, BAD))
    ok("ntfs-3g: the file is in \\unloop.quarantine\\<run>\\...", exists(vol, qpath), qpath)
    ok("ntfs-3g: quarantined content identical", content_sha(vol, qpath) == orig_sha)
    ok("ntfs-3g: quarantined file keeps its times", times(vol, qpath) == orig_times,
       (times(vol, qpath), orig_times))
    ok("ntfs-3g: Microsoft's ntfs.sys untouched",
       exists(vol, "\\Windows\\System32\\drivers\\ntfs.sys"))
    c, out = consistent(vol)
    ok("ntfsfix -n: consistent after quarantine", c, out)
    r = cli("--json", "journal", disk)
    st = [(f["state"], f["path"]) for f in r.json["files"]] if r.json else []
    ok("journal: the file is 'quarantined' (intent + done on disk)",
       st == [("quarantined", BAD)] and r.json["records"] == 2, r.stdout)

    r = cli("--json", "restore", disk)
    ok("restore exits 0 and restores one file", r.returncode == 0 and r.json and
       r.json["moved"] == 1, r.stdout + r.stderr)
    extract(disk, layout, vol)
    ok("ntfs-3g: restored byte-identical (sha256)", content_sha(vol, BAD) == orig_sha)
    ok("ntfs-3g: restored with its four $STANDARD_INFORMATION times",
       times(vol, BAD) == orig_times, (times(vol, BAD), orig_times))
    c, out = consistent(vol)
    ok("ntfsfix -n: consistent after restore", c, out)
    r = cli("--json", "journal", disk)
    ok("journal: the file is 'restored'", r.json and r.json["files"][0]["state"] == "restored",
       r.stdout)
    r = cli("restore", disk)
    ok("a second restore has nothing to do", r.returncode == 0 and "0 restored" in r.stdout,
       r.stdout + r.stderr)

    r = cli("scan", "--partition", "1", disk)
    ok("--partition 1 (the ESP) is refused: not NTFS", r.returncode == 1 and "not NTFS" in r.stderr,
       r.stderr)


def test_windows_formatted(tmp):
    src = os.path.join(TOP, "..", "shared", "testdata", "ntfs", "dfvfs-windows_volume.raw.xz")
    vol = os.path.join(tmp, "windows.raw")
    with open(vol, "wb") as f:
        subprocess.run(["xz", "-dc", src], stdout=f, check=True)
    manifest = os.path.join(tmp, "add.manifest")
    with open(manifest, "w") as f:
        f.write("file %s 2026-11-20T10:00:00Z zero:4096\n" % BAD)
    subprocess.run([os.path.join(TOP, "build", "images", "ntfs-populate"), vol, manifest], check=True)
    r = cli("--json", "scan", vol)
    ok("Windows-formatted volume: scan as a bare volume finds the added file",
       r.returncode == 0 and r.json and r.json["partition"] is None and
       [c["path"] for c in r.json["candidates"]] == [BAD], r.stdout + r.stderr)
    r = cli("--json", "quarantine", vol)
    ok("Windows-formatted volume: quarantine", r.returncode == 0 and r.json["moved"] == 1, r.stderr)
    ok("Windows-formatted volume: moved away", not exists(vol, BAD))
    r = cli("--json", "restore", vol)
    ok("Windows-formatted volume: restore", r.returncode == 0 and r.json["moved"] == 1, r.stderr)
    ok("Windows-formatted volume: back in place", exists(vol, BAD))
    c, out = consistent(vol)
    ok("Windows-formatted volume: ntfsfix -n consistent", c, out)


def flip_mirror_byte(img, base):
    """One byte of $Volume's record in $MFTMirr: what a power cut between
    libntfs-3g's write of an MFT record and of its mirror leaves."""
    import struct
    with open(img, "r+b") as f:
        f.seek(base)
        bs = f.read(512)
        cluster = struct.unpack("<H", bs[11:13])[0] * bs[13]
        cpr = struct.unpack("<b", bs[0x40:0x41])[0]
        rsize = 1 << -cpr if cpr < 0 else cpr * cluster
        mirr = struct.unpack("<Q", bs[0x38:0x40])[0] * cluster + 3 * rsize
        f.seek(base + mirr + 0x60)
        b = f.read(1)
        f.seek(base + mirr + 0x60)
        f.write(bytes([b[0] ^ 0x5A]))


def test_mirror_mismatch(tmp):
    disk = os.path.join(tmp, "mirror.img")
    subprocess.run([os.path.join(TOP, "images", "build-test-machine.sh"), "--out", disk,
                    "--loader", os.path.join(TOP, "build", "unloop.efi"),
                    "--stub", os.path.join(TOP, "build", "stub-loader.efi")], check=True)
    layout = dict(l.strip().split("=") for l in open(disk + ".layout") if "=" in l)
    layout = {k: int(v) for k, v in layout.items()}
    flip_mirror_byte(disk, layout["ntfs_offset"])
    before = sha(disk)
    r = cli("scan", disk)
    ok("$MFTMirr != $MFT: scan (read-only) refuses, says why and what repairs it",
       r.returncode == 1 and "$MFTMirr" in r.stderr and "repair it" in r.stderr, r.stderr)
    ok("$MFTMirr != $MFT: the refusal wrote nothing", sha(disk) == before)
    r = cli("--json", "quarantine", disk)
    ok("$MFTMirr != $MFT: quarantine repairs the mirror (as chkdsk) and moves the file",
       r.returncode == 0 and r.json and r.json["moved"] >= 1 and
       "repaired $MFTMirr" in r.stderr, r.stdout + r.stderr)
    vol = extract(disk, layout, os.path.join(tmp, "mirror-ntfs.img"))
    ok("$MFTMirr != $MFT: file quarantined (ntfsls)", not exists(vol, BAD))
    c, out = consistent(vol)
    ok("$MFTMirr != $MFT: ntfsfix -n consistent after the repair", c, out)


def crashed_windows_volume(tmp, name, back):
    """A partition Windows formatted and wrote (tests/data/ntfs-samples/), the
    channel file added, then its $LogFile left as Windows leaves it when it
    dies with the volume mounted (images/ntfs-crash-log)."""
    vol = os.path.join(tmp, name + ".img")
    with open(vol, "wb") as f:
        subprocess.run(["xz", "-dc", os.path.join(TOP, "tests", "data", "ntfs-samples",
                                                  name + ".part.xz")], stdout=f, check=True)
    manifest = os.path.join(tmp, name + ".manifest")
    with open(manifest, "w") as f:
        f.write("dir \\Windows\\System32 2019-03-01T10:00:00Z\n")
        f.write("file %s 2026-11-20T10:00:00Z zero:4096\n" % BAD)
    subprocess.run([os.path.join(TOP, "build", "images", "ntfs-populate"), vol, manifest],
                   check=True)
    subprocess.run([os.path.join(TOP, "build", "images", "ntfs-crash-log"), vol, str(back)],
                   check=True)
    return vol


def mounts_rw(vol):
    """libntfs-3g's own verdict: would it mount read-write without resetting the log?"""
    return subprocess.run(["ntfs-3g.probe", "--readwrite", vol], capture_output=True).returncode == 0


def test_unclean_log(tmp):
    # Windows died with the volume mounted: replayed as Windows would, then written.
    vol = crashed_windows_volume(tmp, "ntfs-lastaccess", 0)
    ok("crashed Windows log: libntfs-3g refuses it as it is", not mounts_rw(vol))
    r = cli("--json", "scan", vol)
    ok("crashed Windows log: scan reads it without writing",
       r.returncode == 0 and r.json and [c["path"] for c in r.json["candidates"]] == [BAD],
       r.stdout + r.stderr)
    r = cli("--json", "quarantine", vol)
    ok("crashed Windows log: quarantine replays the log, then moves the file",
       r.returncode == 0 and r.json and r.json["moved"] == 1 and
       "replayed the NTFS journal" in r.stderr, r.stdout + r.stderr)
    ok("crashed Windows log: the log is clean afterwards (libntfs-3g mounts it read-write)",
       mounts_rw(vol))
    ok("crashed Windows log: file moved away", not exists(vol, BAD))
    c, out = consistent(vol)
    ok("crashed Windows log: ntfsfix -n consistent", c, out)
    r = cli("--json", "restore", vol)
    ok("crashed Windows log: restore", r.returncode == 0 and r.json["moved"] == 1, r.stderr)

    # A log ntfsrecover cannot replay: refused, nothing written; --reset-log overrides.
    vol = crashed_windows_volume(tmp, "ntfs-2m", 0x1000)
    before = sha(vol)
    r = cli("quarantine", vol)
    ok("unreplayable log: refused with the reason (exit %d)" % r.returncode,
       r.returncode == 1 and "cannot be replayed" in r.stderr and "not writing" in r.stderr,
       r.stderr)
    ok("unreplayable log: image unchanged", sha(vol) == before)
    r = cli("--json", "quarantine", "--reset-log", vol)
    ok("unreplayable log: --reset-log resets it, says so, and quarantines",
       r.returncode == 0 and r.json and r.json["moved"] == 1 and "$LogFile reset" in r.stderr,
       r.stdout + r.stderr)
    c, out = consistent(vol)
    ok("unreplayable log, reset: ntfsfix -n consistent", c, out)


def test_refusals(tmp):
    bl = os.path.join(TOP, "..", "shared", "testdata", "bitlocker", "bitlk-aes-xts-128.img.xz")
    img = os.path.join(tmp, "bitlocker.img")
    with open(img, "wb") as f:
        subprocess.run(["xz", "-dc", bl], stdout=f, check=True)
    before = sha(img)
    r = cli("quarantine", img)
    ok("BitLocker volume: refused with a clear message (exit %d)" % r.returncode,
       r.returncode != 0 and "BitLocker" in r.stderr, r.stderr)
    ok("BitLocker volume: unchanged", sha(img) == before)
    junk = os.path.join(tmp, "junk.img")
    with open(junk, "wb") as f:
        f.write(os.urandom(1 << 20))
    r = cli("scan", junk)
    ok("random bytes: a clear error, not a crash (exit %d)" % r.returncode,
       r.returncode == 1 and r.stderr.strip() and "Sanitizer" not in r.stderr, r.stderr)
    r = cli("scan", os.path.join(tmp, "missing.img"))
    ok("missing file: exit 1 with a message", r.returncode == 1 and r.stderr.strip(), r.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="unloop-q-", dir=os.path.join(TOP, "build"))
    try:
        for t in (test_machine, test_windows_formatted, test_mirror_mismatch, test_unclean_log,
                  test_refusals):
            try:
                t(tmp)
            except Exception as e:  # noqa: BLE001 - a crash of the test is a failure
                ok(t.__name__ + " ran", False, repr(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary("quarantine")


if __name__ == "__main__":
    sys.exit(main())
