#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The recovery USB stick image (images/build-usb.sh, make usb).

Builds the image with the defaults and with --conf/--keys/--size, checks it
the way a user would with independent tools (sfdisk, fdisk, fsck.fat,
mtools, the unloop CLI's config check), refuses bad arguments, and boots the
stick alone in QEMU/OVMF as a USB mass-storage device on xHCI: the firmware
must start unloop.efi from it (its first console line starts "unloop:").
Prints one line per check and a closing "usb: N passed, N failed".
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
from harness import OVMF_CODE, OVMF_VARS, clean  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

B = os.path.join(TOP, "build")
SCRIPT = os.path.join(TOP, "images", "build-usb.sh")
LOADER = os.path.join(B, "unloop.efi")
CLI = os.path.join(B, "unloop")
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"


def check(cond, what, detail=""):
    return ok(what, cond, str(detail).replace("\n", "\n       "), limit=4000)


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def build(out, *args):
    return run(SCRIPT, "--out", out, *args)


def layout_of(img):
    lay = {}
    with open(img + ".layout") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                lay[k] = int(v)
    return lay


MENV = dict(os.environ, MTOOLS_SKIP_CHECK="1", LC_ALL="C")


def mtype(img, off, path):
    r = subprocess.run(["mtype", "-i", "%s@@%d" % (img, off), "::" + path],
                       capture_output=True, env=MENV)
    return r.stdout if r.returncode == 0 else None


def mdir(img, off, path):
    """Long names in a folder (mdir -b: one path per line), or None."""
    r = subprocess.run(["mdir", "-b", "-i", "%s@@%d" % (img, off), "::" + path],
                       capture_output=True, text=True, env=MENV)
    if r.returncode != 0:
        return None
    return sorted(os.path.basename(line.rstrip("/")) for line in r.stdout.split("\n") if line)


def check_image(img, tmp, what, size_mib=64):
    """GPT + one FAT32 ESP holding the stick's files; returns the layout."""
    r = run("sfdisk", "--dump", img)
    if not check(r.returncode == 0, "%s: sfdisk reads the partition table" % what, r.stderr):
        return None
    dump = r.stdout
    parts = [ln for ln in dump.split("\n") if " : start=" in ln]
    check("label: gpt" in dump.split("\n"), "%s: the label is GPT" % what, dump)
    check(len(parts) == 1, "%s: one partition" % what, dump)
    check(len(parts) == 1 and ("type=" + ESP_GUID) in parts[0],
          "%s: it is an EFI system partition" % what, dump)
    check(len(parts) == 1 and "start=        2048," in parts[0],
          "%s: it starts at 1 MiB" % what, dump)
    r = run("sfdisk", "--verify", img)
    check(r.returncode == 0, "%s: sfdisk --verify finds no problem" % what, r.stdout + r.stderr)
    r = run("fdisk", "-l", img, env=dict(os.environ, LC_ALL="C"))
    check(r.returncode == 0 and "Disklabel type: gpt" in r.stdout and "EFI System" in r.stdout,
          "%s: fdisk -l shows GPT and an EFI System partition" % what, r.stdout + r.stderr)
    check(os.path.getsize(img) == size_mib << 20, "%s: the image is %d MiB" % (what, size_mib))

    lay = layout_of(img)
    esp = os.path.join(tmp, "esp.img")
    subprocess.run(["dd", "if=" + img, "of=" + esp, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % lay["esp_offset"], "count=%d" % lay["esp_size"],
                    "status=none"], check=True)
    r = run("fsck.fat", "-n", esp)
    check(r.returncode == 0, "%s: fsck.fat -n finds the ESP clean" % what, r.stdout + r.stderr)
    with open(esp, "rb") as f:
        boot = f.read(512)
    check(boot[82:90] == b"FAT32   " and boot[510:512] == b"\x55\xaa",
          "%s: the ESP is FAT32" % what)
    off = lay["esp_offset"]
    check(mdir(img, off, "/") == ["EFI", "keys", "reports"],
          "%s: the root holds EFI, keys, reports" % what, repr(mdir(img, off, "/")))
    with open(LOADER, "rb") as f:
        check(mtype(img, off, "/EFI/BOOT/BOOTX64.EFI") == f.read(),
              "%s: \\EFI\\BOOT\\BOOTX64.EFI is build/unloop.efi" % what)
    check(mdir(img, off, "/reports") == [], "%s: \\reports\\ is there and empty" % what,
          repr(mdir(img, off, "/reports")))
    readme = mtype(img, off, "/keys/README.TXT")
    check(readme is not None and b"\r\n" in readme and b"manage-bde -protectors -get" in readme
          and b".BEK" in readme and b"CSV" in readme,
          "%s: \\keys\\README.TXT explains the key files (CRLF)" % what)
    return lay


def boot_stick(img, tmp, timeout=60):
    """Boot OVMF with the stick as the only disk; (first unloop: line, seconds, text)."""
    vars_fd = os.path.join(tmp, "vars.fd")
    shutil.copy(OVMF_VARS, vars_fd)
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-m", "256", "-no-reboot",
           "-display", "none", "-serial", "stdio", "-net", "none",
           "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
           "-drive", "if=pflash,format=raw,file=" + vars_fd,
           "-drive", "if=none,id=usb,format=raw,file=" + img,
           "-device", "qemu-xhci", "-device", "usb-storage,drive=usb,bootindex=0",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = bytearray()
    seen = {}

    def reader():
        while True:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            buf.extend(chunk)
            if "at" not in seen:
                lines = [ln.strip() for ln in clean(buf.decode("latin-1")).split("\n")]
                # a whole line: the one after it has begun
                hit = [ln for ln in lines[:-1] if ln.startswith("unloop:")]
                if hit:
                    seen["at"] = time.monotonic() - start
                    seen["line"] = hit[0]

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    while p.poll() is None and "at" not in seen and time.monotonic() - start < timeout:
        time.sleep(0.05)
    if p.poll() is None:
        time.sleep(0.5)
        p.kill()
    p.wait()
    t.join()
    return seen.get("line"), seen.get("at"), clean(buf.decode("latin-1"))


def main():
    for f in (LOADER, CLI, os.path.join(B, "images", "mkgpt")):
        if not os.path.exists(f):
            print("usb: %s is missing: run make all first" % f)
            print("usb: 0 passed, 1 failed")
            return 1
    tmp = tempfile.mkdtemp(prefix="unloop-usb-", dir=B)
    try:
        # 1. the defaults (what make usb builds)
        img = os.path.join(tmp, "usb.img")
        r = build(img)
        check(r.returncode == 0 and r.stdout == "" and r.stderr == "",
              "defaults: build-usb.sh succeeds quietly", r.stdout + r.stderr)
        lay = check_image(img, tmp, "defaults") if r.returncode == 0 else None
        if lay:
            off = lay["esp_offset"]
            conf = mtype(img, off, "/EFI/unloop/unloop.conf") or b""
            check(b"keys = \\keys" in conf and b"# [script]" in conf and
                  b"see README, scripted mode" in conf,
                  "defaults: unloop.conf names \\keys and has [script] commented out")
            path = os.path.join(tmp, "unloop.conf")
            with open(path, "wb") as f:
                f.write(conf)
            r = run(CLI, "config", "check", path)
            check(r.returncode == 0 and "(0 errors, 0 warnings)" in r.stdout,
                  "defaults: unloop config check accepts the stick's unloop.conf",
                  r.stdout + r.stderr)
            check(mdir(img, off, "/keys") == ["README.TXT"],
                  "defaults: \\keys\\ holds only README.TXT", repr(mdir(img, off, "/keys")))

        # 2. --conf, --keys, --size
        keys = os.path.join(tmp, "keys")
        os.makedirs(os.path.join(keys, "site-b"))
        files = {
            "ad-export.csv": b"ComputerName,KeyID,RecoveryPassword\r\n",
            "{8F1C3D62-0A4B-4E55-9C1D-2B7E6F00A1B2}.BEK": bytes(range(256)) * 2,
            "site-b/manage-bde.txt": "Numerical Password:\r\n".encode("utf-16-le"),
        }
        for name, data in files.items():
            with open(os.path.join(keys, name), "wb") as f:
                f.write(data)
        myconf = os.path.join(tmp, "my.conf")
        with open(myconf, "wb") as f:
            f.write(b"[unloop]\nlog_level = debug\n")
        img2 = os.path.join(tmp, "usb2.img")
        r = build(img2, "--conf", myconf, "--keys", keys, "--size", "100",
                  "--loader", LOADER)
        check(r.returncode == 0, "options: build-usb.sh --conf --keys --size 100 succeeds",
              r.stdout + r.stderr)
        lay = check_image(img2, tmp, "options", size_mib=100) if r.returncode == 0 else None
        if lay:
            off = lay["esp_offset"]
            check(mtype(img2, off, "/EFI/unloop/unloop.conf") == b"[unloop]\nlog_level = debug\n",
                  "options: --conf is \\EFI\\unloop\\unloop.conf, byte for byte")
            for name, data in files.items():
                check(mtype(img2, off, "/keys/" + name) == data,
                      "options: --keys: \\keys\\%s copied" % name.replace("/", "\\"))
            check(mtype(img2, off, "/keys/README.TXT") is not None,
                  "options: \\keys\\README.TXT is there beside the keys")

        # 3. refusals
        bad = os.path.join(tmp, "bad.img")
        for args, why in (
            (["--size", "16"], "--size below 40 MiB"),
            (["--size", "lots"], "--size not a number"),
            (["--keys", os.path.join(tmp, "nope")], "--keys not a folder"),
            (["--conf", os.path.join(tmp, "nope.conf")], "--conf missing"),
            (["--loader", os.path.join(tmp, "nope.efi")], "--loader missing"),
            (["--bogus"], "an unknown option"),
        ):
            r = build(bad, *args)
            check(r.returncode != 0 and r.stderr != "" and not os.path.exists(bad),
                  "refused: %s (exit %d, nothing written)" % (why, r.returncode), r.stderr)
        r = run(SCRIPT, "--out", "/dev/null")
        check(r.returncode != 0 and "not a regular file" in r.stderr,
              "refused: --out that is a device", r.stderr)
        check(not [n for n in os.listdir(tmp) if n.startswith(".")],
              "no work files left behind", repr(os.listdir(tmp)))

        # 4. it boots: the firmware starts unloop.efi from the stick
        if os.path.exists(img):
            line, at, text = boot_stick(img, tmp)
            check(line is not None, "boot: OVMF starts unloop.efi from the USB stick%s" %
                  (" (%.1f s to its first line: %s)" % (at, line) if line else ""),
                  "\n".join(text.split("\n")[-25:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary("usb")


if __name__ == "__main__":
    sys.exit(main())
