#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Network boot: the TFTP volume of efi/efi-tftp.c in QEMU/OVMF.

OVMF's own network stack (VirtioNetDxe, no iPXE option ROM: romfile=)
PXE-boots build/efi-tftp-test.efi from QEMU's user network, whose DHCP
server names the boot file and whose built-in TFTP server serves a folder
laid out like the recovery stick.  The app reads the config and key files
through the volume ops and prints their sizes, CRC-32s and first lines;
this script compares them with the files on the host.  Boots:

  root     boot file "efi-tftp-test.efi": paths map to the TFTP root
  subdir   boot file "pxe/x64/efi-tftp-test.efi": paths map below pxe/x64/
           (decoys with other content sit at the root)
  disk     the app booted from a disk instead: no PXE, -UL_ENODEV

Prints one line per check and a closing "pxe: N passed, N failed".
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import OVMF_CODE, OVMF_VARS, clean  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

B = os.path.join(TOP, "build")
APP = os.path.join(B, "efi-tftp-test.efi")
EXIT_OPEN = 1       # isa-debug-exit: (0 << 1) | 1, the volume opened
EXIT_NO_OPEN = 3    # (1 << 1) | 1


def check(cond, what, detail=""):
    return ok(what, cond, str(detail).replace("\n", "\n       "), limit=4000)


def qemu_cmd(vars_fd, tftp=None, bootfile=None, disk=None):
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-m", "256", "-no-reboot",
           "-display", "none", "-serial", "stdio",
           "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
           "-drive", "if=pflash,format=raw,file=" + vars_fd]
    if tftp:
        # romfile= keeps QEMU's iPXE ROM out: OVMF's VirtioNetDxe drives the
        # NIC and its PxeBcDxe boots (PXEv4 first, then PXEv6 and HTTP).
        cmd += ["-netdev", "user,id=n0,tftp=%s,bootfile=%s" % (tftp, bootfile),
                "-device", "virtio-net-pci,netdev=n0,romfile=,bootindex=0"]
    else:
        cmd += ["-net", "none", "-drive", "file=%s,format=raw,if=virtio" % disk]
    cmd += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    return cmd


def boot(tmp, timeout=120, **kw):
    vars_fd = os.path.join(tmp, "vars.fd")
    shutil.copy(OVMF_VARS, vars_fd)
    cmd = qemu_cmd(vars_fd, **kw)
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"") + (e.stderr or b""), None
    secs = time.monotonic() - start
    text = clean(out.decode("latin-1"))
    lines = [ln.strip() for ln in text.split("\n") if ln.strip().startswith("efi-tftp-test:")]
    return rc, secs, text, lines, cmd


def put(root, path, data):
    full = os.path.join(root, *path.split("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def first_line(data):
    out = ""
    for b in data[:63]:
        if b in (10, 13):
            break
        out += chr(b) if 0x20 <= b < 0x7f else "?"
    return out


def file_line(core_path, data):
    return "efi-tftp-test: file %s size %d crc32 %08x eof 0/0 first [%s]" % (
        core_path, len(data), zlib.crc32(data), first_line(data))


def stick_files(tag):
    rnd = random.Random(tag)
    return {
        "EFI/unloop/unloop.conf": (
            "# served over TFTP (%s)\r\n[unloop]\r\nlog_level = debug\r\n"
            "[bitlocker]\r\nkeys = \\keys\r\n" % tag).encode(),
        "keys/test.csv": ("ComputerName,KeyID,RecoveryPassword\r\n"
                          "PC-%s,{8F1C3D62-0A4B-4E55-9C1D-2B7E6F00A1B2},"
                          "111111-222222-333333-444444-555555-666666-777777-888888\r\n"
                          % tag).encode(),
        # several hundred TFTP blocks, with a block-aligned tail
        "keys/big.bin": bytes(rnd.getrandbits(8) for _ in range(300 * 1024)),
        "keys/unloop.lst": b"# key folder listing for TFTP\ntest.csv\r\n\n  big.bin  \n"
                           b"missing.bek\nsub/dir.csv\n",
    }


def check_pxe_run(name, tmp, tftp, bootfile, prefix, files):
    rc, secs, text, lines, cmd = boot(tmp, tftp=tftp, bootfile=bootfile)
    print("     %s: QEMU ran %.1f s" % (name, secs), flush=True)
    if name == "root":
        print("     command: " + " ".join(cmd), flush=True)
    tail = "\n".join(text.split("\n")[-30:])
    check(rc == EXIT_OPEN and "efi-tftp-test: done" in lines,
          "%s: PXE-booted the test app, which opened the TFTP volume (exit %s)" % (name, rc),
          tail)
    check("efi-tftp-test: open server 10.0.2.2 boot-file [%s] prefix [%s]" % (bootfile, prefix)
          in lines, "%s: boot server 10.0.2.2, boot file %s, prefix [%s]" %
          (name, bootfile, prefix), "\n".join(lines))
    for core, rel in (("\\EFI\\unloop\\unloop.conf", "EFI/unloop/unloop.conf"),
                      ("\\keys\\test.csv", "keys/test.csv"),
                      ("\\keys\\big.bin", "keys/big.bin"),
                      ("keys/test.csv", "keys/test.csv")):
        want = file_line(core, files[rel])
        check(want in lines, "%s: %s read through the ops: size, CRC-32, first line" %
              (name, core), "want: %s\ngot:  %s" %
              (want, "\n      ".join(ln for ln in lines if " %s " % core in ln)))
    exp = [
        ("\\keys\\missing.csv error -2", "a missing file is -UL_ENOENT"),
        ("\\keys\\..\\..\\etc\\passwd error -22", "a path with .. is -UL_EINVAL"),
        ("file \\ dir", "the root is a directory"),
    ]
    for frag, what in exp:
        check(any(frag in ln for ln in lines), "%s: %s" % (name, what), "\n".join(lines))
    entries = [ln for ln in lines if ln.startswith("efi-tftp-test: entry ")]
    want = ["efi-tftp-test: entry test.csv size %d" % len(files["keys/test.csv"]),
            "efi-tftp-test: entry big.bin size %d" % len(files["keys/big.bin"])]
    check(entries == want and "efi-tftp-test: list \\keys 0" in lines,
          "%s: list \\keys gives the files unloop.lst names that exist" % name,
          "\n".join(entries))
    check("efi-tftp-test: list \\EFI -2" in lines,
          "%s: list of a folder without unloop.lst is -UL_ENOENT" % name)
    check("efi-tftp-test: write -30" in lines and "efi-tftp-test: mkdir -30" in lines,
          "%s: write and mkdir are -UL_EROFS" % name)
    m = [re.match(r"efi-tftp-test: fetches (\d+) then (\d+)$", ln) for ln in lines]
    m = [x for x in m if x]
    check(m and m[0].group(1) == m[0].group(2),
          "%s: everything read again comes from the cache (no new transfer)" % name,
          m[0].group(0) if m else "no fetches line")
    check("efi-tftp-test: after close -19" in lines,
          "%s: after close the volume says -UL_ENODEV" % name)
    return secs


def main():
    # The test app is not part of make all: build it (quiet when up to date).
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", TOP,
                        os.path.relpath(APP, TOP)], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
    for f in (APP, os.path.join(B, "images", "mkgpt")):
        if not os.path.exists(f):
            print("pxe: %s is missing: run make all first" % f)
            print("pxe: 0 passed, 1 failed")
            return 1
    tmp = tempfile.mkdtemp(prefix="unloop-pxe-", dir=B)
    times = []
    try:
        # 1. boot file at the TFTP root
        tftp = os.path.join(tmp, "tftp-root")
        files = stick_files("root")
        for rel, data in files.items():
            put(tftp, rel, data)
        shutil.copy(APP, os.path.join(tftp, "efi-tftp-test.efi"))
        times.append(check_pxe_run("root", tmp, tftp, "efi-tftp-test.efi", "", files))

        # 2. boot file in a subfolder; decoys at the root must not be read
        tftp = os.path.join(tmp, "tftp-sub")
        files = stick_files("subdir")
        for rel, data in files.items():
            put(tftp, "pxe/x64/" + rel, data)
        for rel, data in stick_files("decoy").items():
            put(tftp, rel, data)
        shutil.copy(APP, os.path.join(tftp, "pxe", "x64", "efi-tftp-test.efi"))
        times.append(check_pxe_run("subdir", tmp, tftp, "pxe/x64/efi-tftp-test.efi",
                                   "pxe/x64/", files))

        # 3. booted from a disk: no PXE Base Code on its device
        disk = os.path.join(tmp, "disk.img")
        r = subprocess.run([os.path.join(TOP, "images", "build-usb.sh"), "--out", disk,
                            "--loader", APP], capture_output=True, text=True)
        if check(r.returncode == 0, "disk: a disk image with the app as BOOTX64.EFI", r.stderr):
            rc, secs, text, lines, _ = boot(tmp, disk=disk)
            print("     disk: QEMU ran %.1f s" % secs, flush=True)
            check(rc == EXIT_NO_OPEN and any("open error -19" in ln for ln in lines),
                  "disk: not network-booted: open is -UL_ENODEV (exit %s)" % rc,
                  "\n".join(text.split("\n")[-15:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if times:
        print("     PXE boot to the app's exit: %s s" % ", ".join("%.1f" % t for t in times))
    return summary("pxe")


if __name__ == "__main__":
    sys.exit(main())
