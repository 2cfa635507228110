#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, BitLocker part (issue #5, "Performance"): from recovery
password to decrypted volume for the test images of
../shared/testdata/bitlocker, unloop next to dislocker-file and libbde's
bdeinfo in the same run, medians of several runs, and the ratios.

  total    unloop bitlocker unlock IMG --recovery-password RP --output OUT
           dislocker-file -vvv -V IMG -pRP -- OUT
  unlock   in the same run: unloop, its wall time minus the time it reports
           writing the volume (--json decrypt_ms): process start, metadata,
           key stretch, VMK and FVEK; dislocker-file (-vvv), until it logs
           "Putting NTFS data into" (it holds the FVEK then).
           libbde: bdeinfo -r RP IMG, which unlocks and decrypts nothing.
  decrypt  total - unlock; volume size / that in MiB/s; next to it, for "near
           AES-XTS speed", openssl speed -evp aes-128-xts on one thread.

Every unloop and dislocker output is checked against SHA256SUM in
images.conf, and every unlock against its tool's success signal, so that a
failure is never timed.  unloop fsyncs the volume it writes; dislocker-file
does not."""
import hashlib
import json
import lzma
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
B = os.path.join(TOP, "build", "bench")
DATA = os.environ.get("BITLOCKER_TESTDATA",
                      os.path.join(TOP, "..", "shared", "testdata", "bitlocker"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
CLI = os.path.join(TOP, "build", "unloop")
# The two the issue names first, then the others.
IMAGES = ["bitlk-aes-xts-128", "bitlk-aes-cbc-elephant-128", "bitlk-aes-cbc-128",
          "bitlk-aes-xts-128-startup-key"]
MIB = 1 << 20


def fail(msg):
    raise SystemExit("bench_bitlocker: " + msg)


def read_conf(path):
    conf, sec = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            mo = re.fullmatch(r"\[(.+)\]", line)
            if mo:
                sec = conf.setdefault(mo.group(1), {})
            elif sec is not None and "=" in line:
                k, v = line.split("=", 1)
                sec[k.strip()] = v.strip()
    return conf


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MIB), b""):
            h.update(chunk)
    return h.hexdigest()


CPU = []  # CPU time (user + sys) of each run(), in order


def run(cmd):
    """Wall time and result of cmd; its CPU time is appended to CPU (the
    runs are sequential, so the children's usage grows by exactly it)."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    r = subprocess.run(cmd, capture_output=True)
    secs = time.monotonic() - t
    c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(c2.ru_utime + c2.ru_stime - c.ru_utime - c.ru_stime)
    return secs, r


def tail(r):
    return (r.stdout + r.stderr).decode(errors="replace")[-500:]


def unloop_total(img, rp, out, want):
    """Wall time of the whole run, and the decrypt time it reports."""
    secs, r = run([CLI, "--json", "bitlocker", "unlock", img, "--recovery-password", rp,
                   "--output", out])
    if r.returncode != 0:
        fail("unloop bitlocker unlock %s failed: %s" % (img, tail(r)))
    rep = json.loads(r.stdout)
    got = sha256_file(out)
    if got != want:
        fail("unloop's output of %s has sha256 %s, expected %s" % (img, got, want))
    size = os.path.getsize(out)
    os.unlink(out)
    return secs, rep["unlock_ms"] / 1000.0, rep["decrypt_ms"] / 1000.0, size


def dislocker_total(img, rp, out, want):
    """Wall time of the whole run, and of its unlock: dislocker-file -vvv
    logs "Putting NTFS data into" once it holds the FVEK, before it decrypts
    (its log lines reach the pipe as they are written)."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    p = subprocess.Popen(["dislocker-file", "-vvv", "-V", img, "-p" + rp, "--", out],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    unlock, text = None, []
    for line in p.stdout:
        if unlock is None and b"Putting NTFS data into" in line:
            unlock = time.monotonic() - t
        text.append(line)
    rc = p.wait()
    secs = time.monotonic() - t
    c2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(c2.ru_utime + c2.ru_stime - c.ru_utime - c.ru_stime)
    if rc != 0 or unlock is None:
        fail("dislocker-file %s failed: %s" % (img, b"".join(text).decode(errors="replace")[-500:]))
    got = sha256_file(out)
    if got != want:
        fail("dislocker-file's output of %s has sha256 %s, expected %s" % (img, got, want))
    size = os.path.getsize(out)
    os.unlink(out)
    return secs, unlock, size


def bdeinfo_unlock(img, rp):
    secs, r = run(["bdeinfo", "-r", rp, img])
    text = (r.stdout + r.stderr).decode(errors="replace")
    if r.returncode != 0 or "Unable to unlock" in text:
        fail("bdeinfo -r did not unlock %s: %s" % (img, tail(r)))
    return secs


def bench_image(name, sec, tmp):
    img = os.path.join(tmp, name + ".img")
    rp, want = sec["RP"], sec["SHA256SUM"]
    out = os.path.join(tmp, "out.img")
    w = {k: [] for k in ("u_tot", "u_unl", "u_dec", "d_tot", "d_unl", "d_dec", "bde")}
    c = {k: [] for k in ("u_tot", "d_tot", "bde")}
    size = None
    # One tool after the other within each round, so that drift in host
    # load hits them alike.
    for _ in range(REPS):
        t, _key, dec, size = unloop_total(img, rp, out, want)
        c["u_tot"].append(CPU[-1])
        w["u_tot"].append(t)
        w["u_unl"].append(t - dec)
        w["u_dec"].append(dec)
        t, unl, dsize = dislocker_total(img, rp, out, want)
        c["d_tot"].append(CPU[-1])
        if dsize != size:
            fail("%s: unloop wrote %d bytes, dislocker-file %d" % (name, size, dsize))
        w["d_tot"].append(t)
        w["d_unl"].append(unl)
        w["d_dec"].append(t - unl)
        w["bde"].append(bdeinfo_unlock(img, rp))
        c["bde"].append(CPU[-1])
    return {"name": name, "cipher": sec.get("CIPHER", "?"), "size": size,
            "w": w, "c": c,
            "wm": {k: statistics.median(v) for k, v in w.items()},
            "cm": {k: statistics.median(v) for k, v in c.items()}}


def openssl_xts():
    """Single-thread AES-128-XTS decryption in MiB/s at 512-byte calls (one
    BitLocker sector per tweak) and 16 KiB calls, or None."""
    if not shutil.which("openssl"):
        return None
    res = {}
    for size in (512, 16384):
        r = subprocess.run(["openssl", "speed", "-evp", "aes-128-xts", "-decrypt", "-seconds", "1",
                            "-bytes", str(size), "-mr"], capture_output=True, text=True)
        mo = re.search(r"^\+F:\d+:AES-128-XTS:([0-9.]+)", r.stdout, re.M)
        if r.returncode != 0 or not mo:
            return None
        res[size] = float(mo.group(1)) / MIB
    return res


def runs(xs):
    return " ".join("%.2f" % x for x in xs)


def main():
    for tool in ("dislocker-file", "bdeinfo"):
        if not shutil.which(tool):
            fail("%s not found (scripts/setup.sh installs it)" % tool)
    if not os.access(CLI, os.X_OK):
        fail("%s not built (make build/unloop)" % CLI)
    conf = read_conf(os.path.join(DATA, "images.conf"))
    names = [n for n in IMAGES if n in conf and
             os.path.exists(os.path.join(DATA, n + ".img.xz"))]
    if not names:
        fail("no test images in %s" % DATA)
    os.makedirs(B, exist_ok=True)
    med = statistics.median
    with tempfile.TemporaryDirectory(prefix="bitlocker-", dir=B) as tmp:
        for n in names:
            with lzma.open(os.path.join(DATA, n + ".img.xz")) as src, \
                    open(os.path.join(tmp, n + ".img"), "wb") as dst:
                shutil.copyfileobj(src, dst, 4 * MIB)
        res = [bench_image(n, conf[n], tmp) for n in names]
    ref = openssl_xts()

    print("BitLocker, recovery password to decrypted volume, median of %d runs each, same run "
          "(outputs checked against SHA256SUM):" % REPS)
    row = "    %-38s %7s %7s   %s"
    for r in res:
        w, c, wm, cm = r["w"], r["c"], r["wm"], r["cm"]
        mib = r["size"] / MIB
        print("  %s (%s, %d MiB)" % (r["name"], r["cipher"], mib))
        print(row % ("", "wall", "cpu", "wall runs"))
        for label, k in (("total   dislocker-file", "d_tot"),
                         ("total   unloop bitlocker unlock", "u_tot"),
                         ("unlock  bdeinfo -r", "bde"),
                         ("unlock  dislocker-file", "d_unl"),
                         ("unlock  unloop", "u_unl"),
                         ("decrypt dislocker-file", "d_dec"),
                         ("decrypt unloop", "u_dec")):
            print(row % (label, "%.2f s" % wm[k], "%.2f s" % cm[k] if k in cm else "-",
                         runs(w[k])))
        u_mibs, d_mibs = mib / wm["u_dec"], mib / wm["d_dec"]
        print("    decrypt + write: unloop %.0f MiB/s, dislocker-file %.0f MiB/s"
              % (u_mibs, d_mibs))
        print("    unloop/dislocker: total %.2f (cpu %.2f), unlock %.2f, decrypt %.2f;"
              " unloop/bdeinfo: unlock %.2f"
              % (wm["u_tot"] / wm["d_tot"], cm["u_tot"] / cm["d_tot"], wm["u_unl"] / wm["d_unl"],
                 wm["u_dec"] / wm["d_dec"], wm["u_unl"] / wm["bde"]))
    if ref:
        print("  reference: openssl speed -evp aes-128-xts -decrypt, one thread: "
              "%.0f MiB/s at 512-byte calls (one sector per tweak), %.0f MiB/s at 16 KiB"
              % (ref[512], ref[16384]))
    else:
        print("  reference: openssl speed not available")
    print("  (ratios are of times: below 1, unloop is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
