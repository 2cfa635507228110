#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The bootnext hand-off and BitLocker's TPM seal (issue #7, DESIGN §6), in
QEMU/OVMF with a software TPM (swtpm).

Every machine starts from the same variable store: a fresh copy of Debian's
OVMF_VARS_4M.fd with two boot entries written in as efibootmgr and bcdedit
write them (HD(1,GPT,...)/File(...)): Boot0080 "unloop" (\\EFI\\unloop\\unloop.efi)
first in BootOrder, then Boot0081 "Windows Boot Manager" (the stub loader as
\\EFI\\Microsoft\\Boot\\bootmgfw.efi, with Windows' optional data). The stub
prints PCRs 0-7 (SHA-256 bank) read through EFI_TCG2_PROTOCOL.

  reference  BootNext = Boot0081 written into the store before power-on: the
             firmware starts the stub itself, unloop never runs.
  (a)(b)     handoff = bootnext: unloop sets BootNext and warm-resets in the
             same QEMU; the firmware starts the stub; PCRs 0-7 equal the
             reference's. A second boot without bless counts attempt 2.
  (c)(d)     handoff = auto on the plain machine: chain-load; PCR 4 differs.
  (d)        handoff = auto on a BitLocker machine: bootnext.
  (e)        handoff = bootnext, but the Windows entry is inactive: a clear
             message, chain-load, the stub is reached.

Usage: test_bootnext.py [-k NAME] [-j JOBS]. Ends with 'bootnext: N passed, N failed'.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

QDIR = os.path.join(harness.BUILD, "qemu", "bootnext")
BASE = os.path.join(QDIR, "base.img")
BL_BASE = os.path.join(QDIR, "bitlocker.img")
BL_RP = "235818-357951-253979-013365-241120-245575-342914-591910"
UNLOOP_NUM, WIN_NUM = 0x80, 0x81
LOADER = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi"
# What bcdedit puts after the Windows Boot Manager's file path: "WINDOWS",
# a small header and the boot manager's BCD object (opaque to the firmware).
WIN_OPTIONAL = (b"WINDOWS\0" + (1).to_bytes(4, "little") + (0x88).to_bytes(4, "little") +
                (0x78).to_bytes(4, "little") +
                "BCDOBJECT={9dea862c-5cdd-4e70-acc1-f32b344d4795}\0".encode("utf-16-le"))
WIN_OPTIONAL += bytes(0x88 - 4 - len(WIN_OPTIONAL)) + bytes([0x7f, 0xff, 4, 0])
TIMEOUT = 300            # two firmware boots under TCG with a TPM, on a shared machine


Failure = harness.Failure
check = harness.check


def new_machine(name, base=BASE, conf=None, win_active=True, boot_next=None):
    """A machine with its own variable store holding the two boot entries."""
    m = Machine(base, os.path.join(QDIR, name))
    num, start, size, guid = harness.esp_partition(m.disk)
    g = harness.EFI_GLOBAL
    unloop = harness.load_option("unloop", harness.hd_file_path(
        num, start, size, guid, "\\EFI\\unloop\\unloop.efi"))
    win = harness.load_option("Windows Boot Manager", harness.hd_file_path(
        num, start, size, guid, LOADER), attributes=1 if win_active else 0, optional=WIN_OPTIONAL)
    order = UNLOOP_NUM.to_bytes(2, "little") + WIN_NUM.to_bytes(2, "little")
    variables = [(g, "Boot%04X" % UNLOOP_NUM, harness.NV_BS_RT, unloop),
                 (g, "Boot%04X" % WIN_NUM, harness.NV_BS_RT, win),
                 (g, "BootOrder", harness.NV_BS_RT, order)]
    if boot_next is not None:
        variables.append((g, "BootNext", harness.NV_BS_RT, boot_next.to_bytes(2, "little")))
    harness.add_variables(m.vars, variables)
    if conf is not None:
        m.esp_write("\\EFI\\unloop\\unloop.conf", conf)
    return m


def pcr_table(title, pcrs, other=None):
    lines = ["%s:" % title]
    for i in range(8):
        mark = "" if other is None else ("   (same)" if pcrs.get(i) == other.get(i)
                                          else "   DIFFERS")
        lines.append("  PCR%d %s%s" % (i, pcrs.get(i, "-"), mark))
    return "\n".join(lines)


REFERENCE = {}


def run_reference():
    """The firmware starts the stub by itself (BootNext set before power-on)."""
    m = new_machine("reference", boot_next=WIN_NUM)
    try:
        b = m.boot(timeout=TIMEOUT, tpm=harness.Swtpm(m.dir))
        check(b.reached_loader, "reference: the stub loader was not reached", b)
        check("attempt 1" not in b.text and m.esp_read("\\EFI\\unloop\\log") is None,
              "reference: unloop ran", b)
        pcrs = harness.stub_pcrs(b.text)
        check(len(pcrs) == 8 and "unreadable" not in pcrs.values(),
              "reference: the stub did not print PCRs 0-7 (no TPM?)", b)
        order, entries = harness.boot_entries(m.vars)
        check(("8be4df61-93ca-11d2-aa0d-00e098032b8c", "BootNext") not in
              harness.read_varstore(m.vars), "reference: the firmware left BootNext set")
        REFERENCE.update(pcrs)
        print(pcr_table("direct boot of the stub by the firmware (reference)", pcrs), flush=True)
        return order, entries
    finally:
        m.cleanup()


def test_bootnext_handoff_keeps_pcrs(m_name="bootnext_handoff_keeps_pcrs"):
    """(a)(b) handoff = bootnext: BootNext set, warm reset in the same QEMU, the
    firmware starts the stub; PCRs 0-7 equal the reference; a second boot without
    bless (the machine crash-loops) counts attempt 2 and hands off the same way."""
    m = new_machine(m_name, conf=b"[unloop]\nhandoff = bootnext\n")
    try:
        b = m.boot(timeout=TIMEOUT, reboot=True, tpm=harness.Swtpm(m.dir))
        check(b.reached_loader, "the stub loader was not reached", b)
        check("bootnext: BootNext = Boot0081 (\\EFI\\Microsoft\\Boot\\bootmgfw.efi); warm reset"
              in b.text, "no BootNext line on the console", b)
        before, _, after = b.text.partition("warm reset, the firmware starts it directly")
        check(harness.STUB_MARKER not in before and harness.STUB_MARKER in after,
              "the stub did not run after the reset", b)
        check("unloop:" not in after and "pre-boot" not in after,
              "unloop ran again after the reset: the firmware did not use BootNext", b)
        # Started by the firmware from Boot0081: it got that entry's optional
        # data ("WINDOWS..."), not unloop's load options.
        check("STUB-LOADER: load options: []" not in after,
              "the stub got no load options: not started from Boot0081?", b)
        log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode("latin-1")
        check("bootnext: BootNext = Boot0081" in log, "the log lacks the hand-off:\n" + log)
        check(("8be4df61-93ca-11d2-aa0d-00e098032b8c", "BootNext") not in
              harness.read_varstore(m.vars), "BootNext still set after the boot")
        pcrs = harness.stub_pcrs(after)
        print(pcr_table("after unloop's bootnext hand-off", pcrs, REFERENCE), flush=True)
        differ = [i for i in range(8) if pcrs.get(i) != REFERENCE.get(i)]
        check(len(pcrs) == 8 and not differ,
              "PCRs %s differ from the direct boot" % differ, b)
        check(m.status()["attempts"] == 1, "attempts: %r" % m.status()["attempts"])
        # Windows crashed (no bless): the next power-on is attempt 2, same hand-off.
        b = m.boot(timeout=TIMEOUT, reboot=True)
        check(b.reached_loader and "attempt 2 of 3" in b.text and
              "bootnext: BootNext = Boot0081" in b.text, "attempt 2: no bootnext hand-off", b)
        check(m.status()["attempts"] == 2, "attempts: %r" % m.status()["attempts"])
    finally:
        m.cleanup()


def test_auto_plain_chainloads_pcr4_differs(m_name="auto_plain_chainloads_pcr4_differs"):
    """(c)(d) handoff = auto on a machine without BitLocker: chain-load; PCR 4 then
    holds unloop.efi too and differs from the direct boot."""
    m = new_machine(m_name, conf=b"[unloop]\nhandoff = auto\n")
    try:
        b = m.boot(timeout=TIMEOUT, tpm=harness.Swtpm(m.dir))
        check(b.reached_loader, "the stub loader was not reached", b)
        check("handoff = auto: no BitLocker volume on this disk; chainload" in b.text,
              "auto did not pick chainload", b)
        check("BootNext" not in b.text, "a BootNext line on a chain-load", b)
        pcrs = harness.stub_pcrs(b.text)
        print(pcr_table("after a chain-load through unloop", pcrs, REFERENCE), flush=True)
        differ = [i for i in range(8) if pcrs.get(i) != REFERENCE.get(i)]
        check(len(pcrs) == 8 and 4 in differ, "PCR 4 equals the direct boot's", b)
        print("chain-load: PCR4 %s\ndirect:     PCR4 %s\nPCRs that differ: %s"
              % (pcrs[4], REFERENCE[4], differ), flush=True)
    finally:
        m.cleanup()


def test_auto_bitlocker_bootnext(m_name="auto_bitlocker_bootnext"):
    """(d) handoff = auto on a machine whose Windows volume is BitLocker-encrypted:
    bootnext."""
    m = new_machine(m_name, base=BL_BASE, conf=b"[unloop]\nhandoff = auto\n")
    try:
        b = m.boot(timeout=TIMEOUT, reboot=True)
        check("handoff = auto: the Windows volume is BitLocker-encrypted; bootnext" in b.text,
              "auto did not pick bootnext on a BitLocker machine", b)
        check(b.reached_loader and "bootnext: BootNext = Boot0081" in b.text,
              "no bootnext hand-off", b)
        after = b.text.partition("warm reset, the firmware starts it directly")[2]
        check(harness.STUB_MARKER in after, "the stub did not run after the reset", b)
    finally:
        m.cleanup()


def test_no_entry_falls_back(m_name="no_entry_falls_back"):
    """(e) handoff = bootnext but the Windows Boot Manager entry is inactive: unloop
    says why, chain-loads, and the stub is reached."""
    m = new_machine(m_name, conf=b"[unloop]\nhandoff = bootnext\n", win_active=False)
    try:
        b = m.boot(timeout=TIMEOUT)
        check(b.reached_loader, "the stub loader was not reached", b)
        check("bootnext: Boot0081 \"Windows Boot Manager\" starts %s but is inactive; skipped"
              % LOADER in b.text, "the inactive entry is not named", b)
        check("bootnext: no active firmware boot entry (Boot#### in BootOrder) starts %s; "
              "chain-loading instead" % LOADER in b.text, "no clear fallback message", b)
        check("warm reset" not in b.text, "a reset without an entry", b)
        log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode("latin-1")
        check("chain-loading instead" in log, "the log lacks the fallback:\n" + log)
    finally:
        m.cleanup()


TESTS = [test_bootnext_handoff_keeps_pcrs, test_auto_plain_chainloads_pcr4_differs,
         test_auto_bitlocker_bootnext, test_no_entry_falls_back]


def run_one(fn):
    name = fn.__name__[5:]
    try:
        fn()
        return name, None, []
    except Exception as e:  # noqa: BLE001 - report every failure
        return name, harness.failure_text(e), []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="run tests whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="VMs at once (default 2)")
    args = ap.parse_args()
    tests = [t for t in TESTS if not args.k or args.k in t.__name__]
    os.makedirs(QDIR, exist_ok=True)
    harness.build_image(BASE)
    if any(t is test_auto_bitlocker_bootnext for t in tests):
        subprocess.run([os.path.join(harness.TOP, "images", "build-test-machine.sh"),
                        "--out", BL_BASE, "--loader", os.path.join(harness.BUILD, "unloop.efi"),
                        "--stub", os.path.join(harness.BUILD, "stub-loader.efi"),
                        "--bcd", harness.TEST_BCD, "--bitlocker", BL_RP], check=True)
    passed = failed = 0
    try:
        run_reference()
        passed += 1
        print("PASS reference (the firmware starts the stub itself)", flush=True)
    except Exception as e:  # noqa: BLE001
        failed += 1
        print("FAIL reference\n%s" % harness.failure_text(e))
        tests = [t for t in tests if t not in (test_bootnext_handoff_keeps_pcrs,
                                               test_auto_plain_chainloads_pcr4_differs)]
        failed += 2
    return harness.run_tests("bootnext", tests, run_one, args.j, passed, failed)


if __name__ == "__main__":
    sys.exit(main())
