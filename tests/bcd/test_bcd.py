#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Safe Mode in real Windows BCD stores, checked with hivex as the oracle.

For every store in ../shared/testdata/bcd/ (on copies): safe-mode on, on
--network, off through the real CLI; after each step hivexml must parse the
whole hive, the base block must be clean (equal sequence numbers, valid
checksum), the default loader must hold exactly the expected safeboot element,
and every other key and value must be unchanged. Bad input is refused and
the file left unchanged. Prints 'bcd: N passed, N failed'.
"""
import base64
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "unloop")
DATA = os.path.join(TOP, "..", "shared", "testdata", "bcd")
BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"


def tree(path):
    """The hive as {lowercase key name: (values, children)} from hivexml,
    without timestamps and file offsets (those may change)."""
    xml = subprocess.run(["hivexml", path], capture_output=True, check=True).stdout
    root = ET.fromstring(xml)

    def node(n):
        values = {}
        children = {}
        for c in n:
            if c.tag == "value":
                values[c.get("key", "").lower()] = (c.get("type"), c.get("value"))
            elif c.tag == "node":
                children[c.get("name").lower()] = node(c)
        return (values, children)
    return node(root.find("node"))


def base_block_ok(path):
    with open(path, "rb") as f:
        b = f.read(4096)
    seq1, seq2 = struct.unpack_from("<II", b, 4)
    x = 0
    for i in range(127):
        x ^= struct.unpack_from("<I", b, 4 * i)[0]
    if x == 0:
        x = 1
    elif x == 0xFFFFFFFF:
        x = 0xFFFFFFFE
    return b[:4] == b"regf" and seq1 == seq2 and x == struct.unpack_from("<I", b, 508)[0], seq1


def cli(*args):
    return subprocess.run([CLI] + list(args), capture_output=True, text=True)


def hivexget(path, key, value):
    return subprocess.run(["hivexget", path, key, value], capture_output=True, text=True)


def check_store(src, tmp):
    name = os.path.basename(src)
    bcd = os.path.join(tmp, name)
    shutil.copy(src, bcd)
    orig = tree(bcd)
    r = hivexget(bcd, "Objects\\%s\\Elements\\23000003" % BOOTMGR, "Element")
    default = r.stdout.strip().lower()
    ok(name + ": hivex finds the default loader", default.startswith("{"), r.stderr)

    r = cli("--json", "safe-mode", "status", "--bcd", bcd)
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    ok(name + ": status names the same default loader, safeboot off",
       st.get("default_loader") == default and st.get("safeboot") is None, r.stdout + r.stderr)

    elem_path = ("objects", default, "elements")
    expected = {"on": base64.b64encode(bytes(8)).decode(),
                "on --network": base64.b64encode(b"\x01" + bytes(7)).decode()}
    prev = open(bcd, "rb").read()
    for step in ("on", "on --network", "off"):
        args = ["--json", "safe-mode"] + step.split() + ["--bcd", bcd]
        r = cli(*args)
        ok("%s: safe-mode %s exits 0" % (name, step), r.returncode == 0, r.stderr)
        res = json.loads(r.stdout) if r.returncode == 0 else {}
        ok("%s: safe-mode %s reports a change" % (name, step), res.get("changed") is True,
           r.stdout)
        ok("%s: backup holds the previous store" % name,
           open(bcd + ".backup", "rb").read() == prev)
        prev = open(bcd, "rb").read()
        clean, seq = base_block_ok(bcd)
        ok("%s: after %s the base block is clean (seq %d) with a valid checksum" % (name, step, seq),
           clean)
        try:
            new = tree(bcd)
            ok("%s: hivexml parses the whole hive after %s" % (name, step), True)
        except subprocess.CalledProcessError as e:
            ok("%s: hivexml parses the whole hive after %s" % (name, step), False, str(e.stderr))
            continue
        # Take the safeboot element out of the new tree; the rest must equal the original.
        n = new
        for k in elem_path:
            n = n[1].get(k, ({}, {}))
        sb = n[1].pop("25000080", None)
        if step == "off":
            ok("%s: off removes the safeboot element" % name, sb is None)
        else:
            got = sb[0].get("element") if sb else None
            ok("%s: %s sets safeboot under the default loader to %s" % (name, step, expected[step]),
               got == ("binary", expected[step]), repr(got))
            r = hivexget(bcd, "Objects\\%s\\Elements\\25000080" % default, "Element")
            ok("%s: hivexget reads the safeboot element" % name, r.returncode == 0, r.stderr)
        ok("%s: every other key and value unchanged after %s" % (name, step), new == orig)
        ok("%s: safebootalternateshell (26000081) never written" % name,
           "26000081" not in n[1] or "26000081" in
           (orig[1]["objects"][1][default][1]["elements"][1]))
    ok("%s: on -> off round trip gives the original keys and values" % name, tree(bcd) == orig)

    r = cli("--json", "bcd", "list", "--bcd", bcd)
    objs = json.loads(r.stdout)["objects"] if r.returncode == 0 else []
    d = [o for o in objs if o["default"]]
    ok("%s: bcd list marks the default loader with its description" % name,
       len(d) == 1 and d[0]["guid"] == default and d[0]["description"] != "", r.stdout)
    ok("%s: bcd list has as many objects as hivex" % name,
       len(objs) == len(orig[1]["objects"][1]))


def check_bad_input(src, tmp):
    data = open(src, "rb").read()
    cases = {
        "truncated": data[:len(data) // 2 + 100],
        "wrong checksum": data[:508] + bytes([data[508] ^ 0xFF]) + data[509:],
        "bins size beyond the file": data[:40] + struct.pack("<I", 0x7FFFF000) + data[44:],
        "root cell outside": data[:36] + struct.pack("<I", 0x7FFFFFF8) + data[40:],
        "not a hive": b"\0" * 8192,
        "empty": b"",
    }
    for what, blob in cases.items():
        # keep the checksum valid where the case is not about it
        if what not in ("wrong checksum", "not a hive", "empty", "truncated"):
            b = bytearray(blob)
            x = 0
            for i in range(127):
                x ^= struct.unpack_from("<I", b, 4 * i)[0]
            x = 1 if x == 0 else (0xFFFFFFFE if x == 0xFFFFFFFF else x)
            struct.pack_into("<I", b, 508, x)
            blob = bytes(b)
        p = os.path.join(tmp, "bad.BCD")
        with open(p, "wb") as f:
            f.write(blob)
        r = cli("safe-mode", "on", "--bcd", p)
        ok("bad input (%s): refused with a clear message (exit %d)" % (what, r.returncode),
           r.returncode == 5 and r.stderr.strip() != "" and "Traceback" not in r.stderr,
           r.stderr)
        ok("bad input (%s): file unchanged" % what, open(p, "rb").read() == blob)
    # a dirty hive (sequence numbers differ) with no logs: refused, unchanged
    b = bytearray(data)
    struct.pack_into("<I", b, 4, struct.unpack_from("<I", b, 4)[0] + 1)
    p = os.path.join(tmp, "dirty.BCD")
    with open(p, "wb") as f:
        f.write(b)
    r = cli("safe-mode", "on", "--bcd", p)
    ok("dirty hive without logs: refused (exit %d)" % r.returncode,
       r.returncode == 5 and "dirty" in r.stderr, r.stderr)
    ok("dirty hive without logs: file unchanged", open(p, "rb").read() == bytes(b))


def check_dirty(tmp):
    """A dirty store with a valid LOG1 (made by tests/unit/test-regf-log, which
    writes entries as Windows 8.1+ does): replayed, then edited; hivex reads
    both the logged change and safeboot."""
    made = sorted(glob.glob(os.path.join(TOP, "build", "tests", "regf-log", "dirty-*.BCD")))
    ok("dirty stores with logs were generated (run the unit tests first)", len(made) == 3)
    for src in made:
        name = os.path.basename(src)
        d = os.path.join(tmp, "dirty-" + name)
        os.makedirs(d)
        bcd = os.path.join(d, "BCD")
        shutil.copy(src, bcd)
        shutil.copy(src + ".LOG1", bcd + ".LOG1")
        clean, _ = base_block_ok(bcd)
        ok(name + ": the input is dirty", not clean)
        r = cli("--json", "safe-mode", "on", "--bcd", bcd)
        ok(name + ": safe-mode on replays the log and edits (exit %d)" % r.returncode,
           r.returncode == 0, r.stderr)
        if r.returncode != 0:
            continue
        default = json.loads(r.stdout)["default_loader"]
        clean, _ = base_block_ok(bcd)
        ok(name + ": result is clean with a valid checksum", clean)
        g = hivexget(bcd, "Objects\\%s\\Elements\\12000004" % BOOTMGR, "Element")
        ok(name + ": hivex reads the change that was only in the log",
           g.stdout.strip() == "Windows Boot Mxnxger", g.stdout + g.stderr)
        t = tree(bcd)
        sb = t[1]["objects"][1][default][1]["elements"][1].get("25000080")
        ok(name + ": hivex reads safeboot = minimal",
           sb is not None and sb[0].get("element") == ("binary", base64.b64encode(bytes(8)).decode()))
    # the same dirty store without its log: refused, unchanged
    if made:
        d = os.path.join(tmp, "dirty-nolog")
        os.makedirs(d)
        bcd = os.path.join(d, "BCD")
        shutil.copy(made[0], bcd)
        r = cli("safe-mode", "on", "--bcd", bcd)
        ok("dirty store without its log: refused with a clear message (exit %d)" % r.returncode,
           r.returncode == 5 and "logs" in r.stderr, r.stderr)
        ok("dirty store without its log: unchanged", open(bcd, "rb").read() == open(made[0], "rb").read())


def main():
    stores = sorted(glob.glob(os.path.join(DATA, "*.BCD")))
    if not stores:
        print("bcd: no test stores in %s" % DATA)
        print("bcd: 0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="unloop-bcd-")
    try:
        for s in stores:
            check_store(s, tmp)
        check_bad_input(stores[0], tmp)
        check_dirty(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary("bcd")


if __name__ == "__main__":
    sys.exit(main())
