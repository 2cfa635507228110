#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A real OS boots through unloop (issue #7, deliverables 3 and 5).

Debian's own kernel (an EFI stub, linux-image-amd64's current package) and a
small initramfs (images/build-linux-guest.sh: busybox-static, the build's
unloop CLI and its libraries) sit on the test machine's ESP as
\\EFI\\Linux\\vmlinuz.efi and \\EFI\\Linux\\initrd.img. unloop.conf says
loader = \\EFI\\Linux\\vmlinuz.efi and passes the kernel command line with
loader_options. The guest's /init mounts efivarfs and the ESP, runs
`unloop bless --esp /esp`, then the ESP's \\EFI\\Linux\\test.sh (what this
boot should do, written by the test from the host), and powers off.

Boots (one QEMU run each, OVMF, one variable store for all of them):
  1. bless: the kernel starts through unloop, the init blesses; from the
     host `unloop status` says 0 attempts, a last-good time, next boot
     hands off.
  2. install/uninstall against OVMF's variables through real efivarfs:
     every variable (name, attributes, sha256 of data) and every ESP file
     (sha256; unloop's own state, log and log.1, which unloop.efi and bless
     write on every boot, excluded) before install equal those after
     uninstall; --dry-run changes nothing; after install BootOrder starts
     with the new "unloop" entry then a new "Windows Boot Manager" entry
     (OVMF's store has none), both HD(ESP's GPT entry)/File(...) as checked
     from the host against the image's GPT; a damaged record changes
     nothing.
     Then a power cut at each durable step of install and of uninstall (the
     process dies there), followed by uninstall or install, leaves every
     variable and file as before. Last, install again; the host then
     deletes \\EFI\\BOOT\\BOOTX64.EFI.
  3. the firmware starts unloop from its new Boot#### (OVMF's BdsDxe line,
     BootCurrent in the guest, unloop's boot count +1), unloop starts the
     kernel, which uninstalls; BootOrder is as before that install, and the ESP's
     files (BOOTX64.EFI put back) equal those before step 2, and so does
     every non-volatile variable in OVMF's store file parsed on the host
     (but the firmware's own MTC counter and HDDP device-path cache).

Usage: test_linux.py. Needs `make all`. Prints one line per check and a
closing 'linux: N passed, M failed' line.
"""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

TOP = harness.TOP
GUEST = os.path.join(harness.BUILD, "linux-guest")
OUT = os.path.join(harness.BUILD, "qemu-linux")
BASE = os.path.join(OUT, "machine.img")
CONF = os.path.join(OUT, "unloop.conf")
GUEST_MEM = "768"
BOOT_TIMEOUT = 300
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
# Files unloop.efi and bless rewrite on every boot: not part of what install
# and uninstall must leave as they were.
OWN_STATE = {"/EFI/unloop/state", "/EFI/unloop/log", "/EFI/unloop/log.1"}
# Non-volatile variables the firmware itself writes, compared out in the
# host-side check of OVMF's store: MTC, the monotonic counter it bumps on
# every boot, and HDDP, EDK II's cache of the full device path it expanded
# from a short-form HD() boot option (written when it boots unloop's entry).
FIRMWARE_OWN = {("eb704011-1402-11d3-8e77-00a0c969723b", "MTC"),
                ("fab7e9e1-39dd-4f2b-8408-e20e906cb6de", "HDDP")}
# The test's own script for each boot, rewritten from the host.
TEST_SCRIPT = "/EFI/Linux/test.sh"
CONF_TEXT = ("[unloop]\n"
             "loader = \\EFI\\Linux\\vmlinuz.efi\n"
             "loader_options = initrd=\\EFI\\Linux\\initrd.img console=ttyS0 quiet panic=-1\n")

TEST_HEAD = r'''
mkdir -p /tmp
V=/sys/firmware/efi/efivars
G=8be4df61-93ca-11d2-aa0d-00e098032b8c
dumpvars() {
	for f in $V/*; do
		a=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
		h=$(tail -c +5 "$f" | sha256sum | cut -d' ' -f1)
		echo "VAR $1 ${f##*/} $a $h"
	done
}
dumpfiles() {
	find /esp -type f | sort | while read -r f; do
		echo "FILE $1 ${f#/esp} $(sha256sum "$f" | cut -d' ' -f1)"
	done
}
hexvar() { tail -c +5 "$V/$1-$G" 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
entries() {
	for f in $V/Boot[0-9A-F][0-9A-F][0-9A-F][0-9A-F]-$G; do
		n=${f##*/}; n=${n%%-*}
		echo "ENTRY $1 $n $(hexvar $n)"
	done
	echo "BOOTORDER $1 $(hexvar BootOrder)"
}
run() { echo "CMD $*"; "$@"; echo "RC $?"; }
# every variable and every ESP file but unloop's state and log, as one hash
digest() {
	{ sha256sum $V/*
	  find /esp -type f | grep -v -e '^/esp/EFI/unloop/state$' -e '^/esp/EFI/unloop/log$' \
		-e '^/esp/EFI/unloop/log.1$' | sort | xargs sha256sum; } | sha256sum | cut -c1-16
}
same() { [ "$(digest)" = "$base" ] && echo same || { echo DIFF; cat /tmp/o /tmp/o2; }; }
'''

PHASES = {
    "roundtrip": r'''
dumpvars v0; dumpfiles f0; entries before
run unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf --force --dry-run
dumpvars v1; dumpfiles f1
run unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf --force
dumpvars v2; dumpfiles f2; entries after
run unloop install --esp /esp
run unloop uninstall --esp /esp --dry-run
dumpvars v3; dumpfiles f3
run unloop uninstall --esp /esp
dumpvars v4; dumpfiles f4
run unloop uninstall --esp /esp
cp /esp/EFI/unloop/unloop.conf /tmp/c
run unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf
cmp -s /tmp/c /esp/EFI/unloop/unloop.conf && echo "CONF-KEPT yes"
run unloop uninstall --esp /esp
printf 'unloop-install-record 1\nstate installed\nboot-order none\ncrc32 00000000\n' >/esp/EFI/unloop/install.rec
run unloop uninstall --esp /esp
run unloop install --esp /esp
rm /esp/EFI/unloop/install.rec
dumpvars v5; dumpfiles f5
# Refusals with a clear message, nothing changed.
run unloop install --esp /tmp
mkdir -p /esp/EFI/Linux/sub
run unloop install --esp /esp/EFI/Linux/sub
rmdir /esp/EFI/Linux/sub
echo "nobody:x:65534:65534::/:/bin/sh" >/etc/passwd
run su -s /bin/sh nobody -c "unloop install --esp /esp"
umount /sys/firmware/efi/efivars
run unloop install --esp /esp
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
dumpvars v6; dumpfiles f6
# A power cut at every durable step of install (the process dies there),
# then uninstall (even steps) or install again, which rolls back the
# unfinished one first, and uninstall (odd steps).
base=$(digest)
I="unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf --force"
n=0
while [ $n -lt 40 ]; do
	UNLOOP_TEST_INSTALL_CUT_AFTER=$n $I >/tmp/o 2>&1; rc=$?
	if [ $rc = 0 ]; then
		unloop uninstall --esp /esp >/tmp/o2 2>&1
		echo "CUT install $n complete rc=$? $(same)"; break
	fi
	if [ $((n % 2)) = 0 ]; then
		unloop uninstall --esp /esp >/tmp/o2 2>&1; r2=$?; how=uninstall
	else
		$I >/tmp/o2 2>&1; r2=$?
		[ $r2 = 0 ] && { unloop uninstall --esp /esp >>/tmp/o2 2>&1; r2=$?; }
		how=install+uninstall
	fi
	echo "CUT install $n rc=$rc $how rc=$r2 $(same)"
	n=$((n + 1))
done
# ... and of uninstall, then uninstall again.
n=0
while [ $n -lt 40 ]; do
	$I >/tmp/o 2>&1 || echo "CUT setup failed"
	UNLOOP_TEST_INSTALL_CUT_AFTER=$n unloop uninstall --esp /esp >/tmp/o 2>&1; rc=$?
	if [ $rc = 0 ]; then echo "CUT uninstall $n complete rc=0 $(same)"; break; fi
	unloop uninstall --esp /esp >/tmp/o2 2>&1; r2=$?
	echo "CUT uninstall $n rc=$rc uninstall rc=$r2 $(same)"
	n=$((n + 1))
done
# BootOrder changed by someone else after install: uninstall takes only
# unloop's entries out of it.
run unloop install --esp /esp
entries changed0
chattr -i $V/BootOrder-$G
printf '\007\000\000\000\001\000\004\000\005\000\000\000\002\000\003\000' >$V/BootOrder-$G
entries changed1
run unloop uninstall --esp /esp
entries changed2
chattr -i $V/BootOrder-$G
printf '\007\000\000\000\000\000\001\000\002\000\003\000' >$V/BootOrder-$G
# --no-entry: files only, BootOrder and the entries left alone.
base=$(digest)
run unloop install --esp /esp --no-entry
entries noentry
run unloop uninstall --esp /esp
echo "NOENTRY $(same)"
# Install for the next boot, which comes through the new firmware entry.
entries before3
run unloop install --esp /esp
entries after3
''',
    "uninstall": r'''
echo "BOOTCURRENT $(hexvar BootCurrent)"
entries before
run unloop uninstall --esp /esp
entries after
''',
}

results = []


def check(cond, what, detail=""):
    results.append(bool(cond))
    print("%s - %s" % ("ok  " if cond else "FAIL", what))
    if not cond and detail:
        for line in str(detail).splitlines()[:12]:
            print("       " + line)
    sys.stdout.flush()
    return bool(cond)


class LinuxMachine(Machine):
    """The test machine with the guest kernel on its ESP and more memory."""

    def __init__(self, base):
        super().__init__(base, workdir=tempfile.mkdtemp(prefix="vm-", dir=OUT))
        self.extra = ["-m", GUEST_MEM]          # QEMU takes the last -m

    def phase(self, name):
        if name:
            self.esp_write("\\EFI\\Linux\\test.sh", (TEST_HEAD + PHASES[name]).encode())
        elif self.esp_exists("\\EFI\\Linux\\test.sh"):
            self.esp_delete("\\EFI\\Linux\\test.sh")
        # The guest powers off at the end (QEMU exits); the firmware's
        # shell prompt means nothing bootable was found: stop there.
        b = self.boot(timeout=BOOT_TIMEOUT, stop_on=("", "Shell> "),
                      watch=["GUEST-BLESS-BEGIN"])
        if b.timed_out or "GUEST-DONE" not in b.text:
            print("       (boot %s: exit %s, %.0f s, timed out %s; last output:)"
                  % (name, b.exit_code, b.elapsed, b.timed_out))
            for line in b.text.strip().splitlines()[-15:]:
                print("       | " + line)
        return b

    def esp_files(self):
        """sha256 of every ESP file, read from the host with mtools."""
        d = tempfile.mkdtemp(dir=self.dir)
        try:
            self._mtools("mcopy", "-s", "-n", "-i", self._img(), "::/", d)
            out = {}
            for root, _, files in os.walk(d):
                for f in files:
                    p = os.path.join(root, f)
                    with open(p, "rb") as fh:
                        out["/" + os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
            return out
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def esp_guid_and_start(self):
        """The ESP's unique partition GUID and first LBA from the image's GPT."""
        with open(self.disk, "rb") as f:
            f.seek(512)
            hdr = f.read(92)
            entries_lba = struct.unpack_from("<Q", hdr, 72)[0]
            f.seek(entries_lba * 512)
            e = f.read(128)
        return str(uuid.UUID(bytes_le=e[16:32])), struct.unpack_from("<QQ", e, 32)


def ovmf_vars(path):
    """The live non-volatile variables in an OVMF variable store file, read
    from the host: {(vendor GUID, name): (attributes, sha256 of data)}.
    Layout (EDK II MdeModulePkg VariableFormat.h): a firmware volume header
    ("_FVH" at 0x28, its length at 0x30), a VARIABLE_STORE_HEADER (GUID,
    size, format, state: 28 bytes), then AUTHENTICATED_VARIABLE_HEADERs
    (60 bytes: StartId 0x55AA, State, Attributes, MonotonicCount,
    TimeStamp, PubKeyIndex, NameSize, DataSize, VendorGuid), each followed
    by its name and data and aligned to 4. A variable is live in state
    VAR_ADDED (0x3f), or VAR_ADDED & VAR_IN_DELETED_TRANSITION (0x3e) when
    no VAR_ADDED copy follows."""
    with open(path, "rb") as f:
        d = f.read()
    if d[0x28:0x2c] != b"_FVH":
        raise ValueError("%s: no firmware volume header" % path)
    hl = struct.unpack_from("<H", d, 0x30)[0]
    p, end = hl + 28, hl + struct.unpack_from("<I", d, hl + 16)[0]
    out = {}
    while p + 60 <= end:
        start, state, _, attrs = struct.unpack_from("<HBBI", d, p)
        if start != 0x55AA:
            break
        nsz, dsz = struct.unpack_from("<II", d, p + 36)
        key = (str(uuid.UUID(bytes_le=d[p + 44:p + 60])),
               d[p + 60:p + 60 + nsz].decode("utf-16-le").rstrip("\0"))
        data = d[p + 60 + nsz:p + 60 + nsz + dsz]
        if state == 0x3F or (state == 0x3E and key not in out):
            out[key] = (attrs, hashlib.sha256(data).hexdigest())
        p = (p + 60 + nsz + dsz + 3) & ~3
    return out


def parse(text):
    """VAR/FILE dumps by tag, ENTRY/BOOTORDER by tag, CMD/RC pairs."""
    vars_, files, entries, order, cmds = {}, {}, {}, {}, []
    cur = None
    for line in text.splitlines():
        w = line.strip().split()
        if not w:
            continue
        if w[0] == "VAR" and len(w) == 5:
            vars_.setdefault(w[1], {})[w[2]] = (w[3], w[4])
        elif w[0] == "FILE" and len(w) == 4:
            files.setdefault(w[1], {})[w[2]] = w[3]
        elif w[0] == "ENTRY" and len(w) in (3, 4):
            entries.setdefault(w[1], {})[w[2]] = bytes.fromhex(w[3] if len(w) == 4 else "")
        elif w[0] == "BOOTORDER" and len(w) in (2, 3):
            b = bytes.fromhex(w[2] if len(w) == 3 else "")
            order[w[1]] = list(struct.unpack("<%dH" % (len(b) // 2), b))
        elif w[0] == "CMD":
            cur = [" ".join(w[1:]), None, []]
            cmds.append(cur)
        elif w[0] == "RC" and cur is not None and len(w) == 2:
            cur[1] = int(w[1])
            cur = None
        elif cur is not None:
            cur[2].append(line)
    return vars_, files, entries, order, cmds


def load_option(data):
    """(description, [(type, subtype, body)]) of an EFI_LOAD_OPTION (UEFI 3.1.3)."""
    attrs, plen = struct.unpack_from("<IH", data, 0)
    i = 6
    end = i
    while data[end:end + 2] != b"\0\0":
        end += 2
    desc = data[i:end].decode("utf-16-le")
    p = end + 2
    nodes = []
    stop = p + plen
    while p + 4 <= stop:
        t, st, ln = struct.unpack_from("<BBH", data, p)
        nodes.append((t, st, data[p + 4:p + ln]))
        if t == 0x7f or ln < 4:
            break
        p += ln
    return attrs, desc, nodes


def check_entry(data, desc, file, guid, start, size, what):
    attrs, d, nodes = load_option(data)
    hd = [n for n in nodes if n[0] == 4 and n[1] == 1]
    fp = [n for n in nodes if n[0] == 4 and n[1] == 4]
    ok = d == desc and attrs & 1 and len(hd) == 1 and len(fp) == 1
    if ok:
        num, pstart, psize = struct.unpack_from("<IQQ", hd[0][2], 0)
        sig = str(uuid.UUID(bytes_le=hd[0][2][20:36]))
        fmt, sigtype = hd[0][2][36], hd[0][2][37]
        name = fp[0][2].decode("utf-16-le").rstrip("\0")
        ok = (num == 1 and pstart == start and psize == size and sig == guid and fmt == 2 and
              sigtype == 2 and name.lower() == file.lower())
    return check(ok, "%s: \"%s\" active, HD(1,GPT,%s,0x%x,0x%x)/File(%s)"
                 % (what, desc, guid, start, size, file), repr((attrs, d, nodes)))


def cmd_rc(cmds, prefix, idx=0):
    """The idx-th run of exactly this command: [command, exit code, output lines]."""
    hits = [c for c in cmds if c[0] == prefix]
    return hits[idx] if len(hits) > idx else ("", None, [])


def diff(a, b):
    keys = sorted(set(a) | set(b))
    return "\n".join("%s: %s -> %s" % (k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k))


def main():
    os.makedirs(OUT, exist_ok=True)
    t0 = time.monotonic()
    had_deb = any(n.endswith(".deb") for n in os.listdir(GUEST)) if os.path.isdir(GUEST) else False
    subprocess.run([os.path.join(TOP, "images", "build-linux-guest.sh"), "--out", GUEST],
                   check=True)
    print("guest kernel and initramfs: %.1f s%s" % (time.monotonic() - t0,
          "" if had_deb else " (kernel package downloaded)"))
    with open(CONF, "w") as f:
        f.write(CONF_TEXT)
    harness.build_image(BASE, conf=CONF)
    m = LinuxMachine(BASE)
    try:
        with open(os.path.join(GUEST, "vmlinuz.efi"), "rb") as f:
            m.esp_write("\\EFI\\Linux\\vmlinuz.efi", f.read())
        with open(os.path.join(GUEST, "initrd.img"), "rb") as f:
            m.esp_write("\\EFI\\Linux\\initrd.img", f.read())
        m.esp_write("\\EFI\\Linux\\alt.conf", (CONF_TEXT + "# installed by the test\n").encode())
        guid, (first, last) = m.esp_guid_and_start()
        size = last - first + 1

        # 1. bless from a real Linux
        b = m.phase(None)
        check("GUEST-BLESS-BEGIN" in b.text, "the kernel booted through unloop and ran its "
              "init (%.0f s)" % b.elapsed, b.text[-1500:])
        check("GUEST-BLESS-END rc=0" in b.text and "Boot marked good" in b.text,
              "unloop bless in the guest succeeded", b.text[-800:])
        st = m.status()
        check(st["attempts"] == 0 and st["last_good"] and st["next_boot"] == "handoff" and
              st["boots"] == 1, "the next boot is counted as healthy (host: unloop status)", st)

        # 2. install and uninstall through efivarfs
        host_files = m.esp_files()
        host_vars = ovmf_vars(m.vars)
        b = m.phase("roundtrip")
        check("GUEST-DONE" in b.text, "install/uninstall boot finished (%.0f s)" % b.elapsed)
        V, F, E, O, C = parse(b.text)
        check(len(V.get("v0", {})) > 10 and "BootOrder-" + GLOBAL in V.get("v0", {}),
              "variable dump before install (%d variables)" % len(V.get("v0", {})))
        dry = cmd_rc(C, "unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf --force --dry-run")
        check(dry[1] == 0 and any("dry run" in l for l in dry[2]), "install --dry-run prints "
              "the plan", "\n".join(dry[2]))
        check(V.get("v1") == V.get("v0") and F.get("f1") == F.get("f0"),
              "--dry-run changed no variable and no file",
              diff(V.get("v0", {}), V.get("v1", {})) + diff(F.get("f0", {}), F.get("f1", {})))
        inst = cmd_rc(C, "unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf --force")
        check(inst[1] == 0, "install exits 0", "\n".join(inst[2]))
        new = sorted(set(E.get("after", {})) - set(E.get("before", {})))
        check(len(new) == 2, "install created two boot entries (%s)" % ",".join(new),
              "before %s after %s" % (sorted(E.get("before", {})), sorted(E.get("after", {}))))
        order_before, order_after = O.get("before", []), O.get("after", [])
        if len(new) == 2:
            nums = [int(n[4:], 16) for n in new]
            check(order_after[:2] == nums and order_after[2:] == order_before,
                  "BootOrder: unloop, Windows Boot Manager, then the old order",
                  "before %s after %s" % (order_before, order_after))
            check_entry(E["after"][new[0]], "unloop", "\\EFI\\unloop\\unloop.efi", guid, first,
                        size, new[0])
            check_entry(E["after"][new[1]], "Windows Boot Manager",
                        "\\EFI\\Microsoft\\Boot\\bootmgfw.efi", guid, first, size, new[1])
        f0, f2 = F.get("f0", {}), F.get("f2", {})
        check(f2.get("/EFI/unloop/unloop.conf") == f0.get("/EFI/Linux/alt.conf") and
              f2.get("/EFI/unloop/unloop.conf.pre-unloop") == f0.get("/EFI/unloop/unloop.conf") and
              "/EFI/unloop/install.rec" in f2,
              "install --force replaced the config, kept the old one, wrote the record", diff(f0, f2))
        again = cmd_rc(C, "unloop install --esp /esp", 0)
        check(again[1] == 1 and any("already installed" in l for l in again[2]),
              "a second install is refused", "\n".join(again[2]))
        check(V.get("v3") == V.get("v2") and F.get("f3") == F.get("f2"),
              "uninstall --dry-run changed nothing")
        un = cmd_rc(C, "unloop uninstall --esp /esp", 0)
        check(un[1] == 0, "uninstall exits 0", "\n".join(un[2]))
        strip = lambda d: {k: v for k, v in d.items() if k not in OWN_STATE}  # noqa: E731
        check(V.get("v4") == V.get("v0"), "after uninstall every variable is as before install "
              "(name, attributes, sha256 of data)", diff(V.get("v0", {}), V.get("v4", {})))
        check(strip(F.get("f4", {})) == strip(f0), "after uninstall every ESP file is as "
              "before install (state, log, log.1 excluded)", diff(strip(f0), strip(F.get("f4", {}))))
        nothing = cmd_rc(C, "unloop uninstall --esp /esp", 1)
        check(nothing[1] == 1 and any("no install record" in l for l in nothing[2]),
              "uninstall with no record: exit 1, says so", "\n".join(nothing[2]))
        keep = cmd_rc(C, "unloop install --esp /esp --conf /esp/EFI/Linux/alt.conf", 0)
        check(keep[1] == 0 and "CONF-KEPT yes" in b.text and
              any("kept as it is" in l or "KEPT" in l for l in keep[2]),
              "without --force a different config on the ESP is kept, and install says so",
              "\n".join(keep[2]))
        bad = cmd_rc(C, "unloop uninstall --esp /esp", 3)
        check(bad[1] == 1 and any("damaged" in l for l in bad[2]),
              "a damaged record: uninstall exits 1 and says so", "\n".join(bad[2]))
        bad2 = cmd_rc(C, "unloop install --esp /esp", 1)
        check(bad2[1] == 1 and any("damaged" in l for l in bad2[2]),
              "a damaged record: install refuses too", "\n".join(bad2[2]))
        check(V.get("v5") == V.get("v0") and strip(F.get("f5", {})) == strip(f0),
              "... and nothing changed", diff(V.get("v0", {}), V.get("v5", {})) +
              diff(strip(f0), strip(F.get("f5", {}))))

        for cmd, idx, msg, what in (
                ("unloop install --esp /tmp", 0, "is not a FAT file system", "not a FAT file system"),
                ("unloop install --esp /esp/EFI/Linux/sub", 0, "not its mount point",
                 "a folder inside the ESP, not its mount point"),
                ("su -s /bin/sh nobody -c unloop install --esp /esp", 0, "must be run as root", "not root"),
                ("unloop install --esp /esp", 2, "efivarfs is not mounted", "no efivarfs")):
            r = cmd_rc(C, cmd, idx)
            check(r[1] == 1 and any(msg in l for l in r[2]), "install refused: %s" % what,
                  "%s -> %s\n%s" % (cmd, r[1], "\n".join(r[2])))
        check(V.get("v6") == V.get("v0") and strip(F.get("f6", {})) == strip(f0),
              "... nothing changed by them", diff(V.get("v0", {}), V.get("v6", {})) +
              diff(strip(f0), strip(F.get("f6", {}))))
        for kind in ("install", "uninstall"):
            cuts = re.findall(r"^CUT %s (\d+) (.*)$" % kind, b.text, re.M)
            done = [c for c in cuts if c[1].startswith("complete rc=0 same")]
            cut = [c for c in cuts if not c[1].startswith("complete")]
            bad = [c for c in cut if not c[1].endswith(" same") or "rc=99" not in c[1] or
                   not (c[1].split()[-2] == "rc=0" or (kind == "install" and c[0] == "0"))]
            check(len(done) == 1 and len(cut) >= (6 if kind == "install" else 4) and not bad,
                  "a power cut at each of the %d durable steps of %s, then %s: variables "
                  "and files as before" % (len(cut), kind, "uninstall or install + uninstall"
                                           if kind == "install" else "uninstall again"),
                  "\n".join(" ".join(c) for c in (bad or cuts)) or b.text[-1500:])

        ch0, ch1, ch2 = O.get("changed0", []), O.get("changed1", []), O.get("changed2", [])
        check(ch0 == [4, 5, 0, 1, 2, 3] and ch1 == [1, 4, 5, 0, 2, 3] and ch2 == [1, 0, 2, 3] and
              cmd_rc(C, "unloop uninstall --esp /esp", 4)[1] == 0,
              "BootOrder changed after install: uninstall takes out only unloop's entries",
              "%s -> %s -> %s\n%s" % (ch0, ch1, ch2,
                                       "\n".join(cmd_rc(C, "unloop uninstall --esp /esp", 4)[2])))

        ne = cmd_rc(C, "unloop install --esp /esp --no-entry")
        check(ne[1] == 0 and O.get("noentry") == order_before and
              sorted(E.get("noentry", {})) == sorted(E.get("changed2", {})) and
              "NOENTRY same" in b.text and cmd_rc(C, "unloop uninstall --esp /esp", 5)[1] == 0,
              "install --no-entry leaves BootOrder and the entries alone; uninstall undoes it",
              "\n".join(ne[2]))

        # 3. install (at the end of that boot), then boot through the firmware entry alone
        inst = cmd_rc(C, "unloop install --esp /esp", 4)
        new = sorted(set(E.get("after3", {})) - set(E.get("before3", {})))
        check(inst[1] == 0 and len(new) == 2, "install for the next boot created %s"
              % ",".join(new), "\n".join(inst[2]))
        order_before = O.get("before3", [])
        unloop_num = O.get("after3", [None])[0]
        bootx64 = m.esp_read("\\EFI\\BOOT\\BOOTX64.EFI")
        m.esp_delete("\\EFI\\BOOT\\BOOTX64.EFI")
        boots_before = m.status()["boots"]
        b = m.phase("uninstall")
        V, F, E, O, C = parse(b.text)
        started = re.search(r'BdsDxe: (loading|starting) Boot([0-9A-F]{4}) "unloop"', b.text)
        check(started and unloop_num is not None and int(started.group(2), 16) == unloop_num,
              "the firmware started unloop from its new entry Boot%04X (no BOOTX64.EFI)"
              % (unloop_num or 0), b.text[:1500])
        cur = re.search(r"BOOTCURRENT ([0-9a-f]{4})", b.text)
        check(cur and struct.unpack("<H", bytes.fromhex(cur.group(1)))[0] == unloop_num,
              "BootCurrent in the guest is that entry", cur.group(0) if cur else b.text[-600:])
        check(m.status()["boots"] == boots_before + 1 and "GUEST-BLESS-END rc=0" in b.text,
              "unloop counted the boot and started the kernel, which blessed it")
        un = cmd_rc(C, "unloop uninstall --esp /esp")
        check(un[1] == 0 and O.get("after") == order_before,
              "uninstall from that boot: BootOrder as before install",
              "%s vs %s\n%s" % (O.get("after"), order_before, "\n".join(un[2])))
        check(all(n not in E.get("after", {}) for n in new), "the created entries are gone")
        after_vars = ovmf_vars(m.vars)
        fw_own = lambda d: {k: v for k, v in d.items() if k not in FIRMWARE_OWN}  # noqa: E731
        check(len(host_vars) > 10 and fw_own(after_vars) == fw_own(host_vars),
              "OVMF's variable store file, read from the host: every non-volatile variable "
              "as before install (%d; the firmware's own MTC and HDDP aside)" % len(host_vars),
              diff(host_vars, after_vars))
        m.esp_write("\\EFI\\BOOT\\BOOTX64.EFI", bootx64)
        after_files = m.esp_files()
        strip_host = lambda d: {k: v for k, v in d.items()  # noqa: E731
                                if k not in OWN_STATE and k != TEST_SCRIPT}
        check(strip_host(after_files) == strip_host(host_files),
              "ESP files (read from the host) as before install (%d files)" % len(host_files),
              diff(strip_host(host_files), strip_host(after_files)))
    finally:
        if all(results):
            m.cleanup()
        else:
            print("(machine kept in %s)" % m.dir)
    passed = sum(results)
    print("linux: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        import traceback
        traceback.print_exc()
        print("linux: %d passed, %d failed" % (sum(results), len(results) - sum(results) + 1))
        sys.exit(1)
