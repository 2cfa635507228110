#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Secure Boot in QEMU/OVMF (issue #7, deliverable 1; DESIGN §9).

The firmware is Debian's OVMF_CODE_4M.snakeoil.fd with a private copy of
OVMF_VARS_4M.snakeoil.fd: Secure Boot on, PK/KEK/db holding the snakeoil
test certificate. unloop.efi and the stand-in Windows Boot Manager are signed
with its key by `make sign` (efi/sign.mk). The tests prove that
  - the signed unloop.efi runs and chain-loads a signed loader;
  - an unsigned unloop.efi, a signed-then-tampered one and one signed with a
    key that is not in db are refused by the firmware: nothing of unloop runs,
    nothing on the ESP changes;
  - a signed unloop.efi asked to chain-load an unsigned loader gets the
    firmware's refusal from LoadImage, says so on screen and in its log, and
    returns to the firmware: it never starts the loader itself.

Usage: test_secureboot.py [-k NAME] [-j JOBS]. Needs make all. Prints one
line per test and a closing 'secureboot: N passed, N failed' line.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

OUT = os.path.join(harness.BUILD, "secureboot")
BASE = os.path.join(OUT, "signed.img")
UNLOOP = os.path.join(harness.BUILD, "unloop.efi")
SIGNED = os.path.join(harness.BUILD, "unloop.signed.efi")
STUB = os.path.join(harness.BUILD, "stub-loader.efi")
STUB_SIGNED = os.path.join(harness.BUILD, "stub-loader.signed.efi")
TAMPERED = os.path.join(OUT, "unloop.tampered.efi")
OTHER_KEY = os.path.join(OUT, "other.key")        # a key the firmware does not trust
OTHER_CERT = os.path.join(OUT, "other.pem")
OTHER_SIGNED = os.path.join(OUT, "unloop.other-key.efi")

BOOTX64 = "\\EFI\\BOOT\\BOOTX64.EFI"
UNLOOP_ESP = "\\EFI\\unloop\\unloop.efi"
BOOTMGFW = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi"
LOG = "\\EFI\\unloop\\log"
STATE = "\\EFI\\unloop\\state"
# OVMF's boot manager when LoadImage of a boot option is refused (fixed
# media: DENY_EXECUTE_ON_SECURITY_VIOLATION -> EFI_ACCESS_DENIED).
# The virtio disk is "UEFI Misc Device" (Boot0002 in a fresh store).
FW_REFUSED = re.compile(r'BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI Misc Device" .*: Access Denied')
FW_NOTHING_LEFT = "BdsDxe: No bootable option or device was found."
REFUSED_MSG = ("Secure Boot refused \\EFI\\Microsoft\\Boot\\bootmgfw.efi: its signature is "
               "not trusted by this firmware")


Failure = harness.Failure
check = harness.check


def sbverify(path):
    r = subprocess.run(["sbverify", "--cert", harness.SNAKEOIL_CERT, path], capture_output=True,
                       text=True)
    return r.returncode == 0


def text_section(data):
    """(file offset, size) of the PE/COFF .text section (PE/COFF spec 3, 4)."""
    pe = struct.unpack_from("<I", data, 0x3c)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise Failure("not a PE image")
    nsect, = struct.unpack_from("<H", data, pe + 6)
    opt_size, = struct.unpack_from("<H", data, pe + 20)
    sect = pe + 24 + opt_size
    for i in range(nsect):
        name = data[sect + 40 * i:sect + 40 * i + 8].rstrip(b"\0")
        raw_size, raw_ptr = struct.unpack_from("<II", data, sect + 40 * i + 16)
        if name == b".text":
            return raw_ptr, raw_size
    raise Failure("no .text section")


def setup():
    """Sign with the snakeoil key through `make sign`, make the tampered copy and
    the test machine whose ESP holds the signed unloop.efi and signed stub."""
    os.makedirs(OUT, exist_ok=True)
    passfile = os.path.join(OUT, "snakeoil.pass")
    with open(passfile, "w") as f:
        f.write("snakeoil\n")
    r = subprocess.run(["make", "-s", "-C", harness.TOP, "sign",
                        os.path.relpath(STUB_SIGNED, harness.TOP),
                        "KEY=" + harness.SNAKEOIL_KEY, "CERT=" + harness.SNAKEOIL_CERT,
                        "KEY_PASS_FILE=" + passfile], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("make sign failed:\n" + r.stdout + r.stderr)
    with open(SIGNED, "rb") as f:
        data = bytearray(f.read())
    off, size = text_section(data)
    data[off + size // 2] ^= 0x01          # one bit of code, after signing
    with open(TAMPERED, "wb") as f:
        f.write(data)
    subprocess.run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=not in db", "-days", "2", "-keyout", OTHER_KEY,
                    "-out", OTHER_CERT], check=True, capture_output=True)
    subprocess.run(["sbsign", "--key", OTHER_KEY, "--cert", OTHER_CERT, "--output",
                    OTHER_SIGNED, UNLOOP], check=True, capture_output=True)
    harness.build_image(BASE, loader=SIGNED, stub=STUB_SIGNED)


def new_machine(name):
    return Machine(BASE, os.path.join(OUT, name), firmware=harness.SECURE_BOOT)


def put_unloop(m, path):
    """Install another unloop.efi where the firmware finds it (the removable-media
    path) and where an installed copy lives."""
    with open(path, "rb") as f:
        data = f.read()
    m.esp_write(BOOTX64, data)
    m.esp_write(UNLOOP_ESP, data)


def refused_by_firmware(m):
    """Boot a machine whose unloop.efi the firmware must refuse."""
    before = (m.esp_read(STATE), m.esp_read(LOG))
    b = m.boot(stop_on=("", FW_NOTHING_LEFT), timeout=60)
    check(FW_REFUSED.search(b.text), "the firmware did not refuse unloop.efi with Access Denied", b)
    check(not b.unloop_lines(), "unloop printed something: it ran", b)
    check(harness.STUB_MARKER not in b.text, "the loader was reached", b)
    check((m.esp_read(STATE), m.esp_read(LOG)) == before,
          "the ESP's state or log changed: unloop ran")
    return b


def test_signed_unloop_runs(m):
    """The signed unloop.efi runs under Secure Boot and chain-loads the signed
    stand-in Windows Boot Manager."""
    check(sbverify(SIGNED) and sbverify(STUB_SIGNED), "sbverify rejects the signed images")
    check(not sbverify(UNLOOP), "sbverify accepts the unsigned unloop.efi")
    b = m.boot()
    check(b.reached_loader, "the signed loader was not reached", b)
    check(any("attempt 1 of 3" in ln for ln in b.unloop_lines()), "unloop did not run", b)
    check("Access Denied" not in b.text and "Security Violation" not in b.text,
          "the firmware refused something", b)
    st = m.status()
    check(st["attempts"] == 1, "attempt not counted: %r" % st)


def test_unsigned_unloop_refused(m):
    """An unsigned unloop.efi: the firmware refuses to load it."""
    put_unloop(m, UNLOOP)
    refused_by_firmware(m)


def test_tampered_unloop_refused(m):
    """A signed unloop.efi with one bit of .text flipped after signing: its hash no
    longer matches the signature and the firmware refuses it."""
    check(not sbverify(TAMPERED), "sbverify accepts the tampered image")
    put_unloop(m, TAMPERED)
    refused_by_firmware(m)


def test_other_key_unloop_refused(m):
    """unloop.efi signed by a key whose certificate is not in db (what anyone can
    make): the firmware refuses it."""
    check(not sbverify(OTHER_SIGNED), "sbverify --cert snakeoil accepts the other key")
    put_unloop(m, OTHER_SIGNED)
    refused_by_firmware(m)


def test_unsigned_loader_refused_unloop_falls_back(m):
    """The signed unloop.efi chain-loads an unsigned bootmgfw.efi: LoadImage is
    refused, unloop says so on screen and in its log, never starts the loader,
    and returns to the firmware, which goes on to its next boot option."""
    with open(STUB, "rb") as f:
        m.esp_write(BOOTMGFW, f.read())
    b = m.boot(stop_on=("returning to the firmware", "BdsDxe"), timeout=60)
    check(REFUSED_MSG in b.text, "no clear refusal on screen", b)
    line = [ln for ln in b.unloop_lines() if REFUSED_MSG in ln][0]
    check("(EFI_ACCESS_DENIED)" in line or "(EFI_SECURITY_VIOLATION)" in line,
          "the refusal does not name the firmware's status", b)
    check("unloop does not bypass Secure Boot" in b.text, "no word that unloop does not bypass", b)
    check("returning to the firmware so its next boot option runs" in b.text,
          "no return to the firmware", b)
    tail = b.text.split("returning to the firmware", 1)[1]
    check("BdsDxe" in tail, "the firmware did not go on to its next boot option", b)
    check(harness.STUB_MARKER not in b.text and b.exit_code != harness.STUB_EXIT,
          "the unsigned loader ran", b)
    log = (m.esp_read(LOG) or b"").decode(errors="replace")
    check(REFUSED_MSG in log, "the log lacks the refusal:\n" + log[-2000:])
    check("returning to the firmware" in log, "the log lacks the fall-back:\n" + log[-2000:])


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def run_one(fn):
    name = fn.__name__.split("_", 1)[1]
    m = new_machine(name)
    return harness.run_on(fn, name, m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="run tests whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="VMs at once (default 2)")
    args = ap.parse_args()
    tests = [t for t in TESTS if not args.k or args.k in t.__name__]
    start = time.monotonic()
    try:
        setup()
    except Exception as e:  # noqa: BLE001
        print("FAIL setup\n%s" % e)
        print("secureboot: 0 passed, 1 failed")
        return 1
    rc = harness.run_tests("secureboot", tests, run_one, args.j)
    print("secureboot: wall time %.1f s" % (time.monotonic() - start))
    return rc


if __name__ == "__main__":
    sys.exit(main())
