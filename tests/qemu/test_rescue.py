#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Rescue mode in QEMU/OVMF (issue #6): the recovery stick (unloop.efi as
\\EFI\\BOOT\\BOOTX64.EFI on a USB disk, a [script] in its unloop.conf) plugged
into crash-looping machines.

  - a plain machine: the script quarantines, writes reports\\<id>.json, and
    the next boot from the internal disk reaches the loader;
  - three machines in a row with the same stick (plain; BitLocker with its key
    in the stick's CSV; BitLocker with no key -> Safe Mode): three reports,
    and `unloop report summarize` lists them (when the CLI has the command);
  - two Windows installations on two disks: both listed, the script acts on
    the one its select names;
  - a malformed [script] and a malformed key file: a message on screen and in
    the report, and nothing changed on the machine;
  - network boot: unloop.efi PXE-booted from QEMU's TFTP server reads its
    config and key file over TFTP, fixes the machine and prints the report on
    the serial console.

Usage: test_rescue.py [-k NAME] [-j JOBS].  Prints 'rescue: N passed, N failed'."""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import test_boot as tb  # noqa: E402

STICK_CONF = """[unloop]
mode = rescue
log_level = debug
menu_timeout = 2

[script]
actions = quarantine
fallback = safe-mode
key_file = \\keys\\bitlocker.csv
then = reboot
"""


Failure = harness.Failure
check = harness.check


def mtools(*args, check_rc=True):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    return subprocess.run(list(args), env=env, check=check_rc, capture_output=True)


class Stick:
    """The recovery stick: GPT + FAT32 ESP, made with the project's image tools."""

    def __init__(self, path, conf, keys=None):
        self.path = path
        usb = os.path.join(harness.TOP, "images", "build-usb.sh")
        if os.path.exists(usb):
            cf = path + ".conf"
            with open(cf, "w") as f:
                f.write(conf)
            cmd = [usb, "--out", path, "--loader", os.path.join(harness.BUILD, "unloop.efi"),
                   "--conf", cf]
            subprocess.run(cmd, check=True, capture_output=True)
            self.offset = None
            with open(path + ".layout") as f:
                for line in f:
                    k, _, v = line.strip().partition("=")
                    if k == "esp_offset":
                        self.offset = int(v)
        else:
            self._build(conf)
        mtools("mmd", "-i", self.img(), "::/keys", check_rc=False)
        mtools("mmd", "-i", self.img(), "::/reports", check_rc=False)
        for name, data in (keys or {}).items():
            self.write("\\keys\\" + name, data)

    def _build(self, conf):
        with open(self.path, "wb") as f:
            f.truncate(64 << 20)
        out = subprocess.run([os.path.join(harness.BUILD, "images", "mkgpt"), self.path, "esp:rest"],
                             check=True, capture_output=True, text=True).stdout.split()
        start, size = int(out[1]), int(out[2])
        self.offset = start * 512
        esp = self.path + ".esp"
        subprocess.run(["mkfs.fat", "-C", "-F", "32", "-n", "UNLOOP", esp, str(size // 2)],
                       check=True, capture_output=True)
        mtools("mmd", "-i", esp, "::/EFI", "::/EFI/BOOT", "::/EFI/unloop")
        mtools("mcopy", "-i", esp, os.path.join(harness.BUILD, "unloop.efi"),
               "::/EFI/BOOT/BOOTX64.EFI")
        cf = esp + ".conf"
        with open(cf, "w") as f:
            f.write(conf)
        mtools("mcopy", "-i", esp, cf, "::/EFI/unloop/unloop.conf")
        subprocess.run(["dd", "if=" + esp, "of=" + self.path, "bs=512", "seek=%d" % start,
                        "conv=notrunc,sparse", "status=none"], check=True)
        os.remove(esp)
        os.remove(cf)

    def img(self):
        return "%s@@%d" % (self.path, self.offset)

    def write(self, path, data):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        try:
            mtools("mcopy", "-o", "-i", self.img(), f.name, "::" + path.replace("\\", "/"))
        finally:
            os.unlink(f.name)

    def read(self, path):
        r = mtools("mtype", "-i", self.img(), "::" + path.replace("\\", "/"), check_rc=False)
        return r.stdout if r.returncode == 0 else None

    def reports(self):
        r = mtools("mdir", "-b", "-i", self.img(), "::/reports", check_rc=False)
        out = {}
        for line in r.stdout.decode(errors="replace").split("\n"):
            line = line.strip()
            if line.lower().endswith(".json"):
                name = line.rsplit("/", 1)[-1]
                data = self.read("\\reports\\" + name)
                out[name] = json.loads(data.decode())
        return out

    def plug(self, m, uuid=None, serial=None):
        """Attach to machine m, first in the boot order; and give m an identity."""
        m.extra = ["-drive", "if=none,id=stick,format=raw,file=" + self.path,
                   "-device", "qemu-xhci", "-device", "usb-storage,drive=stick,bootindex=0"]
        if uuid:
            m.extra += ["-uuid", uuid]
        if serial:
            m.extra += ["-smbios", "type=1,serial=%s,manufacturer=QEMU Test,product=Crashy 9000"
                        % serial]

    @staticmethod
    def unplug(m):
        """Take the stick out; the firmware boots the internal disk again (its
        boot options as they were before the stick's boot order pruned them)."""
        m.extra = []
        shutil.copy(m.firmware["vars"], m.vars)


def quarantine_machine(name, bitlocker=False):
    base = tb.QBASE if not bitlocker else os.path.join(harness.BUILD, "qemu",
                                                       "quarantine-bitlocker.img")
    if bitlocker:
        with tb.BASE_LOCK:
            if not os.path.exists(base):
                tb.build_quarantine_base(os.path.join(harness.BUILD, "qemu", "test.conf"), base,
                                         ["--bitlocker", tb.BL_RP], [])
    return harness.Machine(base, os.path.join(harness.BUILD, "qemu", "rescue-" + name))


def rescue_boot(m, **kw):
    b = m.boot(timeout=150, **kw)
    return b


def bad_in_place(m):
    return m.ntfs_exists(tb.BAD)


def test_plain_machine_fixed_by_script(tmp):
    """A crash-looping plain Windows; the stick's script quarantines and reports;
    the next boot from the internal disk reaches the loader with the file gone."""
    stick = Stick(os.path.join(tmp, "stick.img"), STICK_CONF)
    m = quarantine_machine("plain")
    try:
        for _ in range(2):
            m.boot()                      # two failed attempts (the third would fix it)
        stick.plug(m, uuid="4c4c4544-0042-3510-8052-b4c04f4e4a31", serial="PLAIN1")
        b = rescue_boot(m)
        check("rescue mode (usb)" in b.text, "unloop did not start in rescue mode", b)
        check("1. disk 1, partition 3" in b.text, "the installation was not listed", b)
        check(any("quarantined \\Windows\\System32\\drivers\\CrowdStrike" in ln
                  for ln in b.text.split("\n")), "nothing quarantined", b)
        check("unloop: fixed: quarantined 1 file; report: \\reports\\" in b.text,
              "no one-line summary on screen", b)
        rep = stick.reports()
        check("4c4c4544-0042-3510-8052-b4c04f4e4a31.json" in rep, "no report named by UUID: %r"
              % list(rep))
        r = rep["4c4c4544-0042-3510-8052-b4c04f4e4a31.json"]
        check(r["outcome"] == "fixed" and r["machine"]["serial"] == "PLAIN1" and
              r["machine"]["product"] == "Crashy 9000", "report: %r" % r)
        check(r["actions"][0]["action"] == "quarantine" and r["actions"][0]["result"] == "done"
              and r["actions"][0]["files"][0]["from"] == tb.BAD, "report actions: %r"
              % r["actions"])
        check(not bad_in_place(m), "the channel file is still in place")
        stick.unplug(m)
        b = m.boot()
        check(b.reached_loader, "the next boot from the internal disk did not reach the loader",
              b)
        check(m.ntfs_consistent(), "ntfsfix -n: not consistent")
    finally:
        m.cleanup()


def test_three_machines_one_stick(tmp):
    """Plain; BitLocker with its key in the stick's CSV; BitLocker with no key ->
    Safe Mode: three correct reports on one stick."""
    stick = Stick(os.path.join(tmp, "stick.img"), STICK_CONF)
    # The CSV holds the key of the second machine only (by its protector ID).
    ma = quarantine_machine("m1")
    mb = quarantine_machine("m2", bitlocker=True)
    mc = quarantine_machine("m3", bitlocker=True)
    try:
        pid = tb.bitlocker_protector(mb).strip("{}")
        stick.write("\\keys\\bitlocker.csv",
                    "ComputerName,KeyID,RecoveryKey\r\nPC-B,{%s},%s\r\n" % (pid, tb.BL_RP))
        # Machine C has the same protector ID (same image): give it another one by
        # re-encrypting is costly, so the CSV maps C's ID only when C is plugged in
        # after the CSV is emptied of it.
        for m, uuid, serial in ((ma, "11111111-2222-3333-4444-000000000001", "A1"),
                                (mb, "11111111-2222-3333-4444-000000000002", "B2")):
            stick.plug(m, uuid=uuid, serial=serial)
            b = rescue_boot(m)
            check("report: \\reports\\" in b.text, "no report on machine %s" % serial, b)
        stick.write("\\keys\\bitlocker.csv", "ComputerName,KeyID,RecoveryKey\r\n"
                    "PC-X,{00000000-1111-2222-3333-444444444444},%s\r\n" % tb.BL_RP)
        stick.plug(mc, uuid="11111111-2222-3333-4444-000000000003", serial="C3")
        b = rescue_boot(mc)
        check("report: \\reports\\" in b.text, "no report on machine C3", b)
        rep = stick.reports()
        check(len(rep) == 3, "want 3 reports, have %r" % list(rep))
        ra = rep["11111111-2222-3333-4444-000000000001.json"]
        rb = rep["11111111-2222-3333-4444-000000000002.json"]
        rc = rep["11111111-2222-3333-4444-000000000003.json"]
        check(ra["outcome"] == "fixed", "A: %r" % ra)
        check(rb["outcome"] == "fixed" and rb["installations"][0]["bitlocker"] == "unlocked",
              "B: %r" % rb)
        check("bitlocker.csv" in rb["installations"][0].get("unlocked_with", ""), "B: %r" % rb)
        check(rc["outcome"] == "safe-mode" and rc["installations"][0]["bitlocker"] == "locked",
              "C: %r" % rc)
        check(any(p["type"] == "recovery-password" for p in rc["installations"][0]["protectors"]),
              "C: no protector IDs: %r" % rc)
        check(mc.bcd_safeboot() == 0, "C: Safe Mode not set in its BCD")
        for r in (ra, rb, rc):
            check(tb.BL_RP.split("-")[0] not in json.dumps(r), "a key in a report")
        check(not bad_in_place(ma), "A: file still in place")
        check(not mb.ntfs_exists(tb.BAD, tb.decrypted(mb)), "B: file still in place (dislocker)")
        cli = os.path.join(harness.BUILD, "unloop")
        d = os.path.join(tmp, "reports")
        os.makedirs(d, exist_ok=True)
        for name, r in rep.items():
            with open(os.path.join(d, name), "w") as f:
                json.dump(r, f)
        s = subprocess.run([cli, "--json", "report", "summarize", d], capture_output=True,
                           text=True)
        check(s.returncode == 0, "summarize failed: " + s.stderr)
        rows = {row["serial"]: row for row in json.loads(s.stdout)["rows"]}
        check(rows["A1"]["outcome"] == "fixed" and rows["B2"]["outcome"] == "fixed" and
              rows["C3"]["outcome"] == "safe-mode", "summarize: %r" % rows)
        check("BitLocker" in (rows["C3"]["reason"] or ""), "summarize gives no reason for C3: %r"
              % rows["C3"])
    finally:
        for m in (ma, mb, mc):
            m.cleanup()


def test_two_installations_select(tmp):
    """Two Windows installations on two disks: both listed; select = disk 2 acts on
    the second only."""
    conf = STICK_CONF.replace("then = reboot", "then = reboot\nselect = disk 2")
    stick = Stick(os.path.join(tmp, "stick.img"), conf)
    m = quarantine_machine("two")
    second = os.path.join(m.dir, "disk2.img")
    subprocess.run(["cp", "--sparse=always", tb.QBASE, second], check=True)
    try:
        stick.plug(m, uuid="22222222-2222-3333-4444-000000000001")
        m.extra += ["-drive", "file=%s,format=raw,if=virtio" % second]
        b = rescue_boot(m)
        check("1. disk 1, partition 3" in b.text and "2. disk 2, partition 3" in b.text,
              "both installations not listed", b)
        r = stick.reports()["22222222-2222-3333-4444-000000000001.json"]
        check(len(r["installations"]) == 2, "report: %r" % r["installations"])
        check([i["selected"] for i in r["installations"]] == [False, True], "selection: %r"
              % r["installations"])
        check(r["actions"][0]["installation"] == 2 and r["outcome"] == "fixed", "%r" % r)
        check(bad_in_place(m), "the first installation was changed")
        other = harness.Machine.__new__(harness.Machine)
        other.disk, other.layout, other.dir = second, m.layout, m.dir
        check(not other.ntfs_exists(tb.BAD), "the second installation was not fixed")
    finally:
        m.cleanup()


def test_malformed_script_and_key_file(tmp):
    """A malformed [script] section, then a malformed key file named by the script:
    a clear message on screen and in the report, nothing changed on the machine."""
    bad = STICK_CONF.replace("actions = quarantine", "actions = quarantine, format-c")
    stick = Stick(os.path.join(tmp, "stick.img"), bad)
    m = quarantine_machine("bad")
    try:
        before = tb.ntfs_sha(m)
        esp_before = subprocess.run(["mdir", "-/", "-b", "-i", m._img(), "::/"],
                                    capture_output=True, env=dict(os.environ,
                                                                  MTOOLS_SKIP_CHECK="1")).stdout
        stick.plug(m, uuid="33333333-2222-3333-4444-000000000001")
        b = rescue_boot(m)
        check("the [script] section of unloop.conf has 1 error (first on line 7); nothing was "
              "done" in b.text, "no message on screen", b)
        r = stick.reports()["33333333-2222-3333-4444-000000000001.json"]
        check(r["outcome"] == "failed" and r["actions"] == [] and
              "line 7" in r["errors"][0], "report: %r" % r)
        check(tb.ntfs_sha(m) == before, "the Windows volume changed")
        # The key file: not a key file at all.
        stick.write("\\EFI\\unloop\\unloop.conf", STICK_CONF)
        stick.write("\\keys\\bitlocker.csv", "this is not a key file\r\n")
        b = rescue_boot(m)
        check("holds no recovery password" in b.text, "no key-file message on screen", b)
        r = stick.reports()["33333333-2222-3333-4444-000000000001.json"]
        check(r["outcome"] == "failed" and r["actions"] == [] and
              "bitlocker.csv" in r["errors"][0], "report: %r" % r)
        check(tb.ntfs_sha(m) == before, "the Windows volume changed")
        esp_after = subprocess.run(["mdir", "-/", "-b", "-i", m._img(), "::/"],
                                   capture_output=True, env=dict(os.environ,
                                                                 MTOOLS_SKIP_CHECK="1")).stdout
        check(esp_after == esp_before, "the machine's ESP changed")
    finally:
        m.cleanup()


def test_interactive_pick_fix_and_start_windows(tmp):
    """No script: the technician picks the installation and Quarantine from the menus,
    sees the result, then "start this Windows": the internal disk's loader runs from
    the stick's session (the BitLocker-free machine), and the report is written."""
    conf = "[unloop]\nmode = rescue\n"
    stick = Stick(os.path.join(tmp, "stick.img"), conf)
    m = quarantine_machine("menu")
    try:
        m.boot()
        stick.plug(m, uuid="55555555-2222-3333-4444-000000000001")
        keys = [("Choose the installation to repair.", b"1"),
                ("1. Quarantine the newest third-party driver content", b"1"),
                ("Last: quarantine: done", b"7")]
        b = rescue_boot(m, keys=keys)
        check("Last: quarantine: done" in b.text, "the action's result was not shown", b)
        check(b.reached_loader, "Windows Boot Manager of the internal disk was not started", b)
        check(not bad_in_place(m), "the channel file is still in place")
        r = stick.reports()["55555555-2222-3333-4444-000000000001.json"]
        check(r["outcome"] == "fixed" and r["installations"][0]["selected"], "report: %r" % r)
    finally:
        m.cleanup()


def test_pxe_boot_fixes_machine(tmp):
    """Network boot: unloop.efi PXE-booted from QEMU's TFTP server reads its config
    and key file over TFTP, fixes the machine, and prints its report on the serial
    console (nothing is written back over the network)."""
    tftp = os.path.join(tmp, "tftp")
    os.makedirs(os.path.join(tftp, "EFI", "unloop"))
    os.makedirs(os.path.join(tftp, "keys"))
    shutil.copy(os.path.join(harness.BUILD, "unloop.efi"), os.path.join(tftp, "unloop.efi"))
    with open(os.path.join(tftp, "EFI", "unloop", "unloop.conf"), "w") as f:
        f.write(STICK_CONF.replace("mode = rescue\n", ""))
    with open(os.path.join(tftp, "keys", "bitlocker.csv"), "w") as f:
        f.write("ComputerName,KeyID,RecoveryKey\r\n"
                "PC-X,{00000000-1111-2222-3333-444444444444},%s\r\n" % tb.BL_RP)
    m = quarantine_machine("pxe")
    try:
        for _ in range(2):
            m.boot()
        m.extra = ["-netdev", "user,id=n0,tftp=%s,bootfile=unloop.efi" % tftp,
                   "-device", "virtio-net-pci,netdev=n0,romfile=,bootindex=0",
                   "-uuid", "44444444-2222-3333-4444-000000000001"]
        b = rescue_boot(m)
        check("rescue mode (pxe)" in b.text, "unloop did not start in rescue mode over PXE", b)
        check(any("quarantined \\Windows\\System32\\drivers\\CrowdStrike" in ln
                  for ln in b.text.split("\n")), "nothing quarantined", b)
        text = b.text.replace("\r", "")
        check("UNLOOP-REPORT-BEGIN" in text and "UNLOOP-REPORT-END" in text,
              "no report on the console", b)
        body = text.split("UNLOOP-REPORT-BEGIN\n", 1)[1].split("UNLOOP-REPORT-END", 1)[0]
        r = json.loads(body)
        check(r["mode"] == "pxe" and r["outcome"] == "fixed" and
              r["machine"]["id"] == "44444444-2222-3333-4444-000000000001", "report: %r" % r)
        check(not bad_in_place(m), "the channel file is still in place")
        m.extra = []
        shutil.copy(m.firmware["vars"], m.vars)
        b = m.boot()
        check(b.reached_loader, "the next boot from the internal disk did not reach the loader",
              b)
    finally:
        m.cleanup()


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def run_one(fn):
    tmp = tempfile.mkdtemp(prefix="rescue-", dir=os.path.join(harness.BUILD, "qemu"))
    try:
        fn(tmp)
        return fn.__name__[5:], None, []
    except Exception as e:  # noqa: BLE001
        return fn.__name__[5:], harness.failure_text(e), []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k")
    ap.add_argument("-j", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(os.path.join(harness.BUILD, "qemu"), exist_ok=True)
    conf = os.path.join(harness.BUILD, "qemu", "test.conf")
    with open(conf, "wb") as f:
        f.write(tb.TEST_CONF)
    # The machines carry this build's unloop.efi on their own ESP.
    bl = os.path.join(harness.BUILD, "qemu", "quarantine-bitlocker.img")
    if os.path.exists(bl):
        os.remove(bl)
    tb.build_quarantine_base(conf)
    tests = [t for t in TESTS if not args.k or args.k in t.__name__]
    return harness.run_tests("rescue", tests, run_one, args.j)


if __name__ == "__main__":
    sys.exit(main())
