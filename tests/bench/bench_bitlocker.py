#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench, BitLocker part (issue #5, "Performance"): from recovery
password to decrypted volume for the test images of
../shared/testdata/bitlocker, unloop next to dislocker-file and libbde's
bdeinfo in the same run, medians of several runs, and the ratios.

  total    unloop bitlocker unlock IMG --recovery-password RP --output OUT
           dislocker-file -V IMG -pRP -- OUT
  unlock   unloop: the wall time of the same run minus the time it reports
           writing the volume (--json decrypt_ms), i.e. process start,
           metadata, key stretch and VMK/FVEK (the CLI has no unlock-only
           mode); its in-process unlock_ms is shown too.
           dislocker: dislocker-file without an output file, which unlocks
           and only then stops with "no file given" (checked).
           libbde: bdeinfo -r RP IMG, which unlocks and decrypts nothing.
  decrypt  volume size / (total - unlock), MiB/s; next to it, for "near
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
    secs, r = run(["dislocker-file", "-V", img, "-p" + rp, "--", out])
    if r.returncode != 0:
        fail("dislocker-file %s failed: %s" % (img, tail(r)))
    got = sha256_file(out)
    if got != want:
        fail("dislocker-file's output of %s has sha256 %s, expected %s" % (img, got, want))
    size = os.path.getsize(out)
    os.unlink(out)
    return secs, size


def dislocker_unlock(img, rp):
    # dislocker-file looks for its output argument only after unlocking: a
    # wrong key stops earlier with "Unable to grab VMK or FVEK".
    secs, r = run(["dislocker-file", "-V", img, "-p" + rp])
    text = (r.stdout + r.stderr).decode(errors="replace")
    if "no file given" not in text or "Unable to grab" in text:
        fail("dislocker-file did not unlock %s: %s" % (img, tail(r)))
    return secs


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
    w = {k: [] for k in ("u_tot", "u_unl", "u_key", "u_dec", "d_tot", "d_unl", "bde")}
    c = {k: [] for k in ("u_tot", "d_tot", "d_unl", "bde")}
    size = None
    # One tool after the other within each round, so that drift in host
    # load hits them alike.
    for _ in range(REPS):
        t, key, dec, size = unloop_total(img, rp, out, want)
        c["u_tot"].append(CPU[-1])
        w["u_tot"].append(t)
        w["u_unl"].append(t - dec)
        w["u_key"].append(key)
        w["u_dec"].append(dec)
        t, dsize = dislocker_total(img, rp, out, want)
        c["d_tot"].append(CPU[-1])
        if dsize != size:
            fail("%s: unloop wrote %d bytes, dislocker-file %d" % (name, size, dsize))
        w["d_tot"].append(t)
        w["d_unl"].append(dislocker_unlock(img, rp))
        c["d_unl"].append(CPU[-1])
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
    row = "    %-40s %7s %7s   %s"
    for r in res:
        w, c, wm, cm = r["w"], r["c"], r["wm"], r["cm"]
        mib = r["size"] / MIB
        print("  %s (%s, %d MiB)" % (r["name"], r["cipher"], mib))
        print(row % ("", "wall", "cpu", "wall runs"))
        for label, k in (("total   dislocker-file", "d_tot"),
                         ("total   unloop bitlocker unlock", "u_tot"),
                         ("unlock  bdeinfo -r", "bde"),
                         ("unlock  dislocker-file (no output)", "d_unl"),
                         ("unlock  unloop (total - decrypt_ms)", "u_unl"),
                         ("          of which unlock_ms (in unloop)", "u_key"),
                         ("decrypt unloop (decrypt_ms)", "u_dec")):
            print(row % (label, "%.2f s" % wm[k], "%.2f s" % cm[k] if k in cm else "-",
                         runs(w[k])))
        u_mibs = mib / wm["u_dec"]
        d_dec = wm["d_tot"] - wm["d_unl"]
        d_mibs = mib / d_dec if d_dec > 0 else None
        print("    decrypt + write: unloop %.0f MiB/s (decrypt_ms), dislocker %s (total - unlock)"
              % (u_mibs, "%.0f MiB/s" % d_mibs if d_mibs else "n/a (total <= unlock)"))
        print("    unloop/dislocker: total %.2f (cpu %.2f), unlock %.2f, decrypt MiB/s %s;"
              " unloop/bdeinfo: unlock %.2f"
              % (wm["u_tot"] / wm["d_tot"], cm["u_tot"] / cm["d_tot"], wm["u_unl"] / wm["d_unl"],
                 "%.2f" % (u_mibs / d_mibs) if d_mibs else "n/a", wm["u_unl"] / wm["bde"]))
    if ref:
        print("  reference: openssl speed -evp aes-128-xts -decrypt, one thread: "
              "%.0f MiB/s at 512-byte calls (one sector per tweak), %.0f MiB/s at 16 KiB"
              % (ref[512], ref[16384]))
    else:
        print("  reference: openssl speed not available")
    print("  (ratios are times: below 1 means unloop is faster; for MiB/s, above 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
