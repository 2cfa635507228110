# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmark's \\Windows\\System32\\drivers tree (issue #3, performance):
FILES files in all, for tests/bench/bench_scan.py (the CLI) and
tests/qemu/bench_preboot.py (unloop.efi), so that both measure the same volume.

  - FILES // 2 Microsoft-looking files, round-robin directly in drivers\\ and in
    its own subdirectories en-US, UMDF and DriverData (dated 2024-05-14);
  - the rest but one in 50 third-party folders Vendor00..Vendor49, old content
    (2024-06-01), which no rule may pick;
  - the one bad, recent channel file BAD (2024-07-19T04:09Z, 41984 zero bytes).

The lines are ntfs-populate manifest lines (images/ntfs-populate.c).
"""
import hashlib

DRIVERS = "\\Windows\\System32\\drivers"
BAD = DRIVERS + "\\CrowdStrike\\C-00000291-00000000-00000032.sys"
BAD_SIZE = 41984
VENDORS = 50
# Bump when the lines below change, so that cached images are rebuilt.
VERSION = 1


def lines(files):
    """The manifest, one line at a time (with its newline)."""
    d = DRIVERS
    n = 0
    for i in range(files // 2):
        sub = ["", "\\en-US", "\\UMDF", "\\DriverData"][i % 4]
        yield "file %s%s\\ms%05d.sys 2024-05-14T00:00:00Z text:MZ\n" % (d, sub, i)
        n += 1
    for i in range(files - n - 1):
        yield ("file %s\\Vendor%02d\\content-%05d.bin 2024-06-01T00:00:00Z hex:AAAAAAAA:64\n"
               % (d, i % VENDORS, i))
    yield "file %s 2024-07-19T04:09:00Z zero:%d\n" % (BAD, BAD_SIZE)


def manifest(files):
    return "".join(lines(files))


def key(files, *extra):
    """Short hash of the manifest (and of anything else the caller names, e.g.
    the image tools): the cache key of an image built from it."""
    h = hashlib.sha256(manifest(files).encode())
    h.update(str(VERSION).encode())
    for e in extra:
        h.update(b"\0" + (e if isinstance(e, bytes) else str(e).encode()))
    return h.hexdigest()[:12]


def write_manifest(path, files):
    with open(path, "w") as f:
        f.write(manifest(files))
    return path
