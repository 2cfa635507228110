#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU smoke test of libntfs-3g inside UEFI (make efi-ntfs-check).

Boots build/efi/ntfs/efi-ntfs-test.efi as \\EFI\\BOOT\\BOOTX64.EFI of the test
machine twice: read-only (the disk must not change), then with the move test
(ntfs_test_move=1 in unloop.conf).  Checks what it printed and, on the host,
the volume with ntfs-3g's own tools: ntfsfix -n, ntfsls, ntfscat.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import OVMF_CODE, OVMF_VARS, clean  # noqa: E402

B = os.path.join(TOP, "build")
APP = os.path.join(B, "efi", "ntfs", "efi-ntfs-test.efi")
STUB = os.path.join(B, "stub-loader.efi")
CS = r"\Windows\System32\drivers\CrowdStrike"
FILE = "C-00000291-00000000-00000032.sys"
EXIT_PASS = 1   # isa-debug-exit: (0 << 1) | 1

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def build(d, conf=None):
    img = os.path.join(d, "disk.img")
    cmd = [os.path.join(TOP, "images", "build-test-machine.sh"), "--out", img,
           "--loader", APP, "--stub", STUB]
    if conf:
        path = os.path.join(d, "unloop.conf")
        with open(path, "w") as f:
            f.write(conf)
        cmd += ["--conf", path]
    subprocess.run(cmd, check=True)
    layout = {}
    with open(img + ".layout") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                layout[k] = int(v)
    return img, layout


def boot(d, img):
    vars_fd = os.path.join(d, "vars.fd")
    shutil.copy(OVMF_VARS, vars_fd)
    p = subprocess.run([
        "qemu-system-x86_64", "-machine", "q35", "-m", "256", "-no-reboot",
        "-display", "none", "-vga", "std", "-serial", "stdio", "-net", "none",
        "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
        "-drive", "if=pflash,format=raw,file=" + vars_fd,
        "-drive", "file=%s,format=raw,if=virtio" % img,
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    text = clean(p.stdout.decode("utf-8", "replace"))
    start = text.find("efi-ntfs-test:")
    return p.returncode, text[start:] if start >= 0 else text


def partition(img, layout, out):
    with open(img, "rb") as src, open(out, "wb") as dst:
        src.seek(layout["ntfs_offset"])
        dst.write(src.read(layout["ntfs_size"]))
    return out


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    d = tempfile.mkdtemp(prefix="ntfs-smoke-", dir=B)
    try:
        # 1. read-only
        img, layout = build(d)
        before = sha(img)
        rc, text = boot(d, img)
        print(text)
        expect(rc == EXIT_PASS, "read-only boot passed (exit %d)" % rc)
        expect("channel file: size 41984, mtime 2024-07-19 04:09:00" in text,
               "size 41984 and mtime 2024-07-19 04:09:00 UTC")
        for name in ("C-00000285-00000000-00000007.sys", "C-00000291-00000000-00000031.sys",
                     FILE, "CSAgent.sys"):
            expect(name in text, "listing has " + name)
        expect(sha(img) == before, "read-only mount changed nothing on the disk")
        orig = run("ntfscat", partition(img, layout, os.path.join(d, "ro.part")),
                   (CS + "\\" + FILE).replace("\\", "/")).stdout

        # 2. move into \unloop.quarantine\test and back
        img, layout = build(d, "ntfs_test_move=1\n")
        rc, text = boot(d, img)
        print(text)
        expect(rc == EXIT_PASS, "move boot passed (exit %d)" % rc)
        expect("FAIL" not in text, "every step of the move test")
        part = partition(img, layout, os.path.join(d, "move.part"))
        r = run("ntfsfix", "-n", part)
        print(r.stdout.strip())
        expect(r.returncode == 0 and "processed successfully" in r.stdout, "ntfsfix -n")
        r = run("ntfsls", "-p", "/unloop.quarantine/test", part)
        left = set(r.stdout.split()) - {".", "..", "./", "../"}
        expect(r.returncode == 0 and not left, "quarantine dir exists and is empty")
        r = run("ntfsls", "-p", CS.replace("\\", "/"), part)
        expect(FILE in r.stdout.split(), "channel file back in place (ntfsls)")
        r = run("ntfscat", part, (CS + "\\" + FILE).replace("\\", "/"))
        expect(r.returncode == 0 and r.stdout == orig and len(orig) == 41984,
               "content unchanged (ntfscat)")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("ntfs smoke: %s" % ("FAILED: " + "; ".join(failures) if failures else "PASSED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
