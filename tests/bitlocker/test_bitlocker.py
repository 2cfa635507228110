#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`unloop bitlocker info|unlock` on the Windows-made volumes in
../shared/testdata/bitlocker/, with bdeinfo (libbde) and dislocker as oracles:

  - every image, every key images.conf lists (password, recovery password,
    .BEK file): the decrypted volume's SHA-256 equals SHA256SUM;
  - info agrees with bdeinfo and dislocker-metadata (encryption method,
    volume GUID, protector GUIDs and types) and with images.conf;
  - wrong and malformed keys, damaged metadata (each copy, all three),
    truncated images, an existing output: a clear error, exit 1, nothing
    written, the image unchanged;
  - the volume as a partition of a GPT disk image;
  - --key-file for every image: Active Directory and Entra ID CSV exports,
    manage-bde text in UTF-16LE, standard input, the .BEK file; a file with
    other volumes' IDs only and one with a mistyped password for the right
    ID (exit 1, the password never echoed), files that are no key file;
  - volumes derived from the real ones (metadata rewritten, CRCs resealed,
    dislocker-file as the oracle): one whose encryption was paused half way,
    and one with protection suspended (a clear key added).

Prints 'bitlocker: N passed, N failed'; a 'perf:' line compares one unlock
with dislocker-file."""
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "unloop")
DATA = os.path.abspath(os.path.join(TOP, "..", "shared", "testdata", "bitlocker"))

# bdeinfo's and dislocker-metadata's names for the methods, and ours.
BDE_METHOD = {"AES-CBC 128-bit with Diffuser": "aes-cbc-elephant-128",
              "AES-CBC 256-bit with Diffuser": "aes-cbc-elephant-256",
              "AES-CBC 128-bit": "aes-cbc-128", "AES-CBC 256-bit": "aes-cbc-256",
              "AES-XTS 128-bit": "aes-xts-128", "AES-XTS 256-bit": "aes-xts-256"}
BDE_TYPE = {"Password": "password", "Recovery password": "recovery-password",
            "Startup key": "startup-key", "Clear key": "clear-key", "TPM": "tpm",
            "TPM and PIN": "tpm-pin"}
CONF_CIPHER = {"aes-cbc-eboiv": ("aes-cbc-128",), "aes-xts-plain64": ("aes-xts-128",),
               "aes-cbc-elephant": ("aes-cbc-elephant-128",)}


def cli(*args, stdin=None):
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True, input=stdin)
    try:
        r.json = json.loads(r.stdout) if "--json" in args and r.stdout.strip() else None
    except ValueError:
        r.json = None
    return r


def sha(path, limit=None):
    """SHA-256 of the file, or of its first limit bytes."""
    h = hashlib.sha256()
    left = limit if limit is not None else float("inf")
    with open(path, "rb") as f:
        while left > 0:
            chunk = f.read(int(min(1 << 20, left)))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def images():
    """images.conf: [name] sections of KEY=value."""
    out, cur = {}, None
    for line in open(os.path.join(DATA, "images.conf")):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            cur = out.setdefault(line[1:-1], {})
        elif "=" in line and cur is not None:
            k, v = line.split("=", 1)
            cur[k] = v
    return out


def bek_file():
    return [os.path.join(DATA, f) for f in os.listdir(DATA) if f.endswith(".BEK")][0]


def unpack(name, tmp):
    path = os.path.join(tmp, name + ".img")
    if not os.path.exists(path):
        with lzma.open(os.path.join(DATA, name + ".img.xz")) as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return path


# ---------------------------------------------------------------- oracles

def bdeinfo(img):
    r = subprocess.run(["bdeinfo", img], capture_output=True, text=True)
    info, prots, cur = {}, [], None
    for line in r.stdout.splitlines():
        k, _, v = line.strip().partition(":")
        k, v = k.strip(), v.strip()
        if k == "Encryption method":
            info["method"] = BDE_METHOD.get(v, v)
        elif k == "Volume identifier":
            info["guid"] = v.lower()
        elif k == "Description":
            info["description"] = v
        elif k == "Identifier":
            cur = {"guid": v.lower()}
            prots.append(cur)
        elif k == "Type" and cur is not None:
            cur["type"] = BDE_TYPE.get(v, v)
    info["protectors"] = sorted((p["guid"], p.get("type")) for p in prots)
    return info


def dislocker_metadata(img):
    r = subprocess.run(["dislocker-metadata", "-V", img], capture_output=True, text=True)
    guids, method, enc = set(), None, None
    for line in r.stdout.splitlines():
        if "Recovery Key GUID:" in line:
            guids.add(line.split("'")[1].lower())
        elif "Encryption Type:" in line and method is None:
            method = int(line.rsplit("(", 1)[1].rstrip(")"), 16)
        elif "Encrypted volume size:" in line and enc is None:
            enc = int(line.split("Encrypted volume size:", 1)[1].split()[0])
    return guids, method, enc


def dislocker_file(img, key_args, out, limit=None):
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(["dislocker-file", "-V", img] + key_args + ["--", out],
                       capture_output=True, text=True)
    return sha(out, limit) if r.returncode == 0 and os.path.exists(out) else None


# ---------------------------------------------------------------- metadata editing

def meta_offsets(img):
    with open(img, "rb") as f:
        hdr = f.read(512)
    return struct.unpack_from("<QQQ", hdr, 0xb0)


def edit_copies(img, fn):
    """fn(block bytes up to the validation) -> new block; resealed in each copy."""
    with open(img, "r+b") as f:
        for off in meta_offsets(img):
            f.seek(off)
            area = bytearray(f.read(0x10000))
            size = struct.unpack_from("<H", area, 8)[0] * 16
            val = bytes(area[size:size + 8 + struct.unpack_from("<H", area, size + 8)[0]])
            blk = bytearray(fn(bytearray(area[:size])))
            blk += bytes(-len(blk) % 16)
            struct.pack_into("<H", blk, 8, len(blk) // 16)
            val = bytearray(val)
            struct.pack_into("<I", val, 4, zlib.crc32(bytes(blk)))
            f.seek(off)
            f.write(bytes(blk) + bytes(val))


def entries(blk):
    ds = struct.unpack_from("<I", blk, 64)[0]
    pos, end = 64 + 48, 64 + ds
    while pos + 8 <= end:
        size = struct.unpack_from("<H", blk, pos)[0]
        if size < 8:
            break
        yield pos, blk[pos:pos + size]
        pos += size


def nested(d, start, vt):
    pos = start
    while pos + 8 <= len(d):
        size = struct.unpack_from("<H", d, pos)[0]
        if size < 8:
            break
        if struct.unpack_from("<H", d, pos + 4)[0] == vt:
            yield d[pos:pos + size]
        pos += size


def vmk_from_bek(img, bek):
    """The VMK, unwrapped with the startup key (python3-cryptography's AES-CCM)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    b = open(bek, "rb").read()
    ext = b[48:48 + struct.unpack_from("<H", b, 48)[0]]
    guid, key = ext[8:24], next(nested(ext, 32, 1))[12:44]
    with open(img, "rb") as f:
        f.seek(meta_offsets(img)[0])
        area = f.read(0x10000)
    blk = area[:struct.unpack_from("<H", area, 8)[0] * 16]
    for _, d in entries(blk):
        if struct.unpack_from("<HH", d, 2) == (2, 8) and d[8:24] == guid:
            c = next(nested(d, 36, 5))
            pl = AESCCM(key, tag_length=16).decrypt(c[8:20], c[36:] + c[20:36], None)
            return pl[12:44]
    raise RuntimeError("no VMK for the .BEK")


def entry(etype, vtype, body):
    return struct.pack("<HHHH", 8 + len(body), etype, vtype, 1) + body


def add_clear_key(img, vmk):
    """Suspend protection: a VMK entry of protection type 0 holding its own key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    clear = bytes(range(0xa0, 0xc0))
    nonce = bytes(range(12))
    ct = AESCCM(clear, tag_length=16).encrypt(
        nonce, entry(0, 1, struct.pack("<I", 0x2000) + vmk), None)
    body = (bytes.fromhex("5c1ea4c5e7a34f0c9bd1c1ea4c5e7a34") + struct.pack("<QHH", 0, 0, 0)
            + entry(0, 1, struct.pack("<I", 0x2000) + clear)
            + entry(0, 5, nonce + ct[-16:] + ct[:-16]))
    new = entry(2, 8, body)

    def fn(blk):
        ds = struct.unpack_from("<I", blk, 64)[0]
        blk = blk[:64 + ds] + new
        struct.pack_into("<I", blk, 64, ds + len(new))      # dataset size
        struct.pack_into("<I", blk, 76, ds + len(new))      # and its copy
        return blk
    edit_copies(img, fn)


# ---------------------------------------------------------------- tests

def test_image(tmp, name, conf):
    img = unpack(name, tmp)
    before = sha(img)
    want = conf["SHA256SUM"]

    r = cli("--json", "bitlocker", "info", img)
    ok(name + ": info exits 0", r.returncode == 0 and r.json, r.stderr)
    if not r.json:
        return
    j = r.json
    prots = sorted((p["guid"], p["type"]) for p in j["protectors"])
    ok(name + ": info: volume GUID as images.conf", j["volume_guid"] == conf["GUID"], j)
    ok(name + ": info: method as images.conf (%s)" % conf["CIPHER"],
       j["method"] in CONF_CIPHER[conf["CIPHER"]], j["method"])
    for key, typ in (("PW_VMK_GUID", "password"), ("RP_VMK_GUID", "recovery-password"),
                     ("SK_VMK_GUID", "startup-key")):
        if key in conf:
            ok(name + ": info: %s protector %s" % (typ, conf[key]), (conf[key], typ) in prots,
               prots)
    ok(name + ": info: fully encrypted, all metadata copies valid",
       j["fully_encrypted"] and all(c["valid"] for c in j["metadata_copies"]), j)

    b = bdeinfo(img)
    ok(name + ": bdeinfo agrees: method", b.get("method") == j["method"], (b, j["method"]))
    ok(name + ": bdeinfo agrees: volume GUID", b.get("guid") == j["volume_guid"], b)
    ok(name + ": bdeinfo agrees: protector GUIDs and types", b["protectors"] == prots,
       (b["protectors"], prots))
    ok(name + ": bdeinfo agrees: description", b.get("description") == j["description"], b)
    guids, method, enc = dislocker_metadata(img)
    ok(name + ": dislocker-metadata agrees: method 0x%04x" % (method or 0),
       method == j["method_value"], (method, j["method_value"]))
    ok(name + ": dislocker-metadata agrees: protector GUIDs", guids == {p[0] for p in prots},
       (guids, prots))
    ok(name + ": dislocker-metadata agrees: encrypted size", enc == j["encrypted_size"], enc)

    keys = []
    if conf.get("PW"):
        keys.append(("password", ["--password", conf["PW"]], conf["PW_VMK_GUID"]))
    if conf.get("RP"):
        keys.append(("recovery password", ["--recovery-password", conf["RP"]],
                     conf["RP_VMK_GUID"]))
    if conf.get("SK_VMK_GUID"):
        keys.append((".BEK", ["--bek", bek_file()], conf["SK_VMK_GUID"]))
    for what, args, guid in keys:
        out = os.path.join(tmp, name + ".dec")
        if os.path.exists(out):
            os.unlink(out)
        r = cli("--json", "bitlocker", "unlock", img, *args, "--output", out)
        ok(name + ": unlock with the %s: exit 0, its protector" % what,
           r.returncode == 0 and r.json and r.json["protector_guid"] == guid,
           (r.returncode, r.stdout, r.stderr))
        got = sha(out) if os.path.exists(out) else None
        ok(name + ": unlock with the %s: SHA-256 = SHA256SUM" % what, got == want, got)
        if r.json:
            print("time: %s %s: unlock %d ms, decrypt %d ms" % (name, what, r.json["unlock_ms"],
                                                                 r.json["decrypt_ms"]))
        secret = args[1] if what != ".BEK" else None
        ok(name + ": unlock with the %s: the key is in no output" % what,
           not secret or (secret not in r.stdout and secret not in r.stderr))
        if os.path.exists(out):
            os.unlink(out)

    # wrong keys: exit 1, a clear message, nothing written
    out = os.path.join(tmp, name + ".wrong")
    r = cli("bitlocker", "unlock", img, "--password", "not-the-password", "--output", out)
    ok(name + ": wrong password: exit 1, 'wrong password', no output",
       r.returncode == 1 and "wrong password" in r.stderr and not os.path.exists(out)
       and "not-the-password" not in r.stderr, (r.returncode, r.stderr))
    ok(name + ": image unchanged", sha(img) == before)


def test_wrong_and_malformed(tmp, conf):
    img = unpack("bitlk-aes-xts-128", tmp)
    out = os.path.join(tmp, "malformed.out")
    rp = conf["RP"]
    other = "363770-230505-096371-652674-567006-579150-291038-408111"   # another volume's
    r = cli("bitlocker", "unlock", img, "--recovery-password", other, "--output", out)
    ok("wrong recovery password: exit 1, 'wrong recovery password', nothing written",
       r.returncode == 1 and "wrong recovery password" in r.stderr and not os.path.exists(out)
       and other not in r.stderr, r.stderr)
    groups = rp.split("-")
    cases = [
        ("bad check digit in group 8", "-".join(groups[:7] + [groups[7][:5] + "1"]),
         "group 8: check digit wrong"),
        ("group 2 not divisible by 11", "-".join([groups[0], "100000"] + groups[2:]),
         "group 2: check digit wrong"),
        ("group 3 too large", "-".join(groups[:2] + ["720896"] + groups[3:]),
         "group 3: group too large"),
        ("7 groups", "-".join(groups[:7]), "expected 48 digits"),
        ("9 groups", rp + "-000000", "expected 48 digits"),
        ("a letter", rp[:-1] + "x", "expected 48 digits"),
        ("empty", "", "expected 48 digits"),
    ]
    for what, s, msg in cases:
        r = cli("bitlocker", "unlock", img, "--recovery-password", s, "--output", out)
        ok("malformed recovery password (%s): exit 1, '%s'" % (what, msg),
           r.returncode == 1 and msg in r.stderr and not os.path.exists(out)
           and (not s or s not in r.stderr), (r.returncode, r.stderr))
    # the same password in other spellings
    r = cli("bitlocker", "unlock", img, "--recovery-password", rp.replace("-", ""),
            "--output", out)
    ok("recovery password without dashes: unlocks, SHA-256 = SHA256SUM",
       r.returncode == 0 and sha(out) == conf["SHA256SUM"], r.stderr)
    os.unlink(out) if os.path.exists(out) else None
    r = cli("bitlocker", "unlock", img, "--password", "-", "--output", out,
            stdin=conf["PW"] + "\n")
    ok("password from standard input ('-'): unlocks, SHA-256 = SHA256SUM",
       r.returncode == 0 and sha(out) == conf["SHA256SUM"], r.stderr)
    r = cli("bitlocker", "unlock", img, "--password", conf["PW"], "--output", out)
    ok("existing output: refused, exit 1, file untouched",
       r.returncode == 1 and "exists" in r.stderr and sha(out) == conf["SHA256SUM"], r.stderr)
    os.unlink(out)
    r = cli("bitlocker", "unlock", img, "--output", img)
    ok("output = the image: refused", r.returncode != 0 and not os.path.exists(out), r.stderr)
    r = cli("bitlocker", "unlock", img, "--output", out)
    ok("no key and no clear key: exit 2, says which options",
       r.returncode == 2 and "--recovery-password" in r.stderr and not os.path.exists(out),
       r.stderr)
    r = cli("bitlocker", "unlock", img, "--password", "a", "--bek", bek_file(), "--output", out)
    ok("two key options: usage error (2)", r.returncode == 2, r.stderr)
    r = cli("bitlocker", "unlock", img, "--password", "a")
    ok("no --output: usage error (2)", r.returncode == 2, r.stderr)
    r = cli("bitlocker", "frobnicate", img)
    ok("unknown action: usage error (2)", r.returncode == 2, r.stderr)
    r = cli("bitlocker", "info", "/etc/hostname")
    ok("not BitLocker: exit 1, says so", r.returncode == 1 and "BitLocker" in r.stderr, r.stderr)


def test_damaged(tmp, conf):
    """The startup-key image (opened with its .BEK: no stretch), damaged."""
    src = unpack("bitlk-aes-xts-128-startup-key", tmp)
    want = conf["SHA256SUM"]
    img = os.path.join(tmp, "damaged.img")
    out = os.path.join(tmp, "damaged.out")
    offs = meta_offsets(src)
    for c in range(3):
        shutil.copyfile(src, img)
        with open(img, "r+b") as f:
            f.seek(offs[c] + 0x100)
            b = f.read(1)
            f.seek(offs[c] + 0x100)
            f.write(bytes([b[0] ^ 0x5a]))
        r = cli("--json", "bitlocker", "info", img)
        ok("metadata copy %d damaged: info says copy %d refused (CRC-32), uses copy %d"
           % (c + 1, c + 1, 2 if c == 0 else 1),
           r.json and not r.json["metadata_copies"][c]["valid"]
           and "CRC" in (r.json["metadata_copies"][c]["error"] or "")
           and r.json["metadata_copy"] == (2 if c == 0 else 1), r.stdout + r.stderr)
        r = cli("bitlocker", "unlock", img, "--bek", bek_file(), "--output", out)
        ok("metadata copy %d damaged: unlock, SHA-256 = SHA256SUM" % (c + 1),
           r.returncode == 0 and sha(out) == want, r.stderr)
        os.unlink(out) if os.path.exists(out) else None
    with open(img, "r+b") as f:
        for off in offs:
            f.seek(off + 0x10)
            f.write(b"\xff")
    before = sha(img)
    r = cli("bitlocker", "unlock", img, "--bek", bek_file(), "--output", out)
    ok("all three copies damaged: exit 1, 'all three', nothing written, image unchanged",
       r.returncode == 1 and "all three" in r.stderr and not os.path.exists(out)
       and sha(img) == before, r.stderr)

    for size, what in ((50 << 20, "50 MiB (copy 3 cut off)"), (1 << 20, "1 MiB (all copies cut off)"),
                       (100, "100 bytes")):
        shutil.copyfile(src, img)
        os.truncate(img, size)
        before = sha(img)
        r = cli("bitlocker", "unlock", img, "--bek", bek_file(), "--output", out)
        ok("truncated to %s: exit 1, clear message, nothing written, image unchanged" % what,
           r.returncode == 1 and ("truncated" in r.stderr or "not a BitLocker" in r.stderr)
           and not os.path.exists(out) and sha(img) == before, r.stderr)
    os.unlink(img)


def test_partition(tmp, conf):
    src = unpack("bitlk-aes-xts-128-startup-key", tmp)
    disk = os.path.join(tmp, "disk.img")
    out = os.path.join(tmp, "part.out")
    with open(disk, "wb") as f:
        f.truncate((2 + 100 + 2) << 20)
    layout = ("label: gpt\n"
              "start=2048, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
              "start=4096, size=204800, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n")
    subprocess.run(["sfdisk", "-q", disk], input=layout, text=True, check=True,
                   capture_output=True)
    subprocess.run(["dd", "if=" + src, "of=" + disk, "bs=1M", "seek=2", "conv=notrunc,sparse",
                    "status=none"], check=True)
    r = cli("--json", "bitlocker", "info", disk)
    ok("GPT disk image: info finds partition 2", r.json and r.json["partition"] == 2
       and r.json["offset"] == 2 << 20, r.stdout + r.stderr)
    r = cli("bitlocker", "info", "--partition", "1", disk)
    ok("GPT disk image: --partition 1 is not BitLocker: exit 1",
       r.returncode == 1 and "not a BitLocker" in r.stderr, r.stderr)
    r = cli("bitlocker", "info", "--partition", "7", disk)
    ok("GPT disk image: --partition 7 does not exist: exit 1", r.returncode == 1, r.stderr)
    r = cli("bitlocker", "unlock", "--partition", "2", disk, "--bek", bek_file(),
            "--output", out)
    ok("GPT disk image: unlock partition 2, SHA-256 = SHA256SUM",
       r.returncode == 0 and sha(out) == conf["SHA256SUM"], r.stderr)
    os.unlink(out) if os.path.exists(out) else None
    os.unlink(disk)


def test_derived(tmp, conf):
    """Volumes made from a real one: paused half way; protection suspended."""
    src = unpack("bitlk-aes-xts-128-startup-key", tmp)
    bek = bek_file()
    want = conf["SHA256SUM"]
    plain = os.path.join(tmp, "plain.dec")
    if not os.path.exists(plain):
        cli("bitlocker", "unlock", src, "--bek", bek, "--output", plain)

    # Encryption paused at 64 MiB: past it the sectors are plaintext on disk.
    img = os.path.join(tmp, "paused.img")
    out = os.path.join(tmp, "paused.out")
    shutil.copyfile(src, img)
    cut = 64 << 20
    with open(plain, "rb") as p, open(img, "r+b") as f:
        p.seek(cut)
        f.seek(cut)
        shutil.copyfileobj(p, f, 1 << 20)

    def pause(blk):
        struct.pack_into("<HHQ", blk, 12, 5, 4, cut)
        return blk
    edit_copies(img, pause)
    r = cli("--json", "bitlocker", "info", img)
    ok("paused at 64 MiB: info says paused, 67108864 bytes encrypted",
       r.json and r.json["state"] == "paused" and r.json["encrypted_size"] == cut
       and not r.json["fully_encrypted"], r.stdout + r.stderr)
    r = cli("bitlocker", "unlock", img, "--bek", bek, "--output", out)
    got = sha(out) if os.path.exists(out) else None
    ok("paused at 64 MiB: unlock, SHA-256 = SHA256SUM", r.returncode == 0 and got == want,
       (r.stderr, got))
    # dislocker-file stops at the encrypted size: compare what it writes.
    d = dislocker_file(img, ["-f", bek], out + ".dislocker", limit=cut)
    ok("paused at 64 MiB: dislocker-file decrypts the encrypted part the same",
       d is not None and d == sha(out, limit=cut), d)
    for p in (img, out, out + ".dislocker"):
        os.unlink(p) if os.path.exists(p) else None

    # Protection suspended: a clear key protector added.
    try:
        vmk = vmk_from_bek(src, bek)
    except ImportError:
        ok("python3-cryptography is installed (scripts/setup.sh)", False)
        return
    img = os.path.join(tmp, "suspended.img")
    out = os.path.join(tmp, "suspended.out")
    shutil.copyfile(src, img)
    add_clear_key(img, vmk)
    b = bdeinfo(img)
    ok("protection suspended: bdeinfo lists the clear key protector",
       ("c5a41e5c-a3e7-0c4f-9bd1-c1ea4c5e7a34", "clear-key") in b["protectors"], b)
    r = cli("--json", "bitlocker", "info", img)
    prots = sorted((p["guid"], p["type"]) for p in r.json["protectors"]) if r.json else None
    ok("protection suspended: info lists 4 protectors, one a clear key, as bdeinfo",
       prots and len(prots) == 4 and prots == b["protectors"], (prots, b))
    r = cli("--json", "bitlocker", "unlock", img, "--output", out)
    got = sha(out) if os.path.exists(out) else None
    ok("protection suspended: unlock with no key (the clear key), SHA-256 = SHA256SUM",
       r.returncode == 0 and r.json and r.json["protector_type"] == "clear-key" and got == want,
       (r.stdout, r.stderr, got))
    d = dislocker_file(img, ["-c"], out + ".dislocker")
    ok("protection suspended: dislocker-file -c decrypts it the same", d == want, d)
    for p in (img, out, out + ".dislocker"):
        os.unlink(p) if os.path.exists(p) else None

# ---------------------------------------------------------------- --key-file

def key_files(conf_all, name):
    """The key files of one image: its own entry among the other images'."""
    mine = conf_all[name]
    entries = [(c["RP_VMK_GUID"], c["RP"]) for n, c in conf_all.items() if n != name]
    entries.insert(len(entries) // 2, (mine["RP_VMK_GUID"], mine["RP"]))
    dev = "5e2c8a1f-0d4b-4c39-9a57-7b1e6f0c2d44"
    # Active Directory: Get-ADObject ... msFVE-RecoveryInformation | Export-Csv
    # (Windows PowerShell 5.1: a #TYPE line, every field quoted, CRLF, the
    # object's own objectGUID beside the key ID).
    ad = ['#TYPE Microsoft.ActiveDirectory.Management.ADObject',
          '"DistinguishedName","msFVE-RecoveryPassword","Name","ObjectClass","ObjectGUID"']
    for i, (g, rp) in enumerate(entries):
        nm = "2024-07-1%dT08:12:33-00:00{%s}" % (i, g.upper())
        ad.append('"CN=%s,CN=PC%02d,OU=Laptops,DC=corp,DC=example","%s","%s",'
                  '"msFVE-RecoveryInformation","%08x-1111-4222-8333-444444444444"'
                  % (nm, i, rp, nm, i))
    ad = ("\r\n".join(ad) + "\r\n").encode()
    # Entra ID / Intune: Graph's bitlockerRecoveryKey properties as columns,
    # the device ID first; UTF-8 with a BOM.
    entra = ["DeviceId,Id,CreatedDateTime,VolumeType,Key"]
    for g, rp in entries:
        entra.append("%s,%s,2024-07-19T08:12:33Z,1,%s" % (dev, g, rp))
    entra = ("\ufeff" + "\n".join(entra) + "\n").encode("utf-8")
    # manage-bde -protectors -get C: > keys.txt in PowerShell: UTF-16LE + BOM,
    # German labels.
    mb = ["Volume C: [Betriebssystem]", "Alle Schl\u00fcsselschutzvorrichtungen", "",
          "    TPM:", "      ID: {11111111-2222-3333-4444-555555555555}", "",
          "    Numerisches Kennwort:", "      ID: {%s}" % mine["RP_VMK_GUID"].upper(),
          "      Kennwort:", "        " + mine["RP"], ""]
    manage_bde = b"\xff\xfe" + "\r\n".join(mb).encode("utf-16-le")
    others = "\n".join("%s %s" % e for e in entries if e[0] != mine["RP_VMK_GUID"]) + "\n"
    groups = mine["RP"].split("-")
    bad = "-".join(groups[:2] + [groups[2][:5] + str((int(groups[2][5]) + 1) % 10)] + groups[3:])
    malformed = "{%s}\t%s\n" % (mine["RP_VMK_GUID"], bad)
    return ad, entra, manage_bde, others.encode(), malformed.encode(), bad


def test_key_file(tmp, name, conf_all):
    conf = conf_all[name]
    img = unpack(name, tmp)
    want = conf["SHA256SUM"]
    ad, entra, manage_bde, others, malformed, bad = key_files(conf_all, name)
    secrets = [conf["RP"], bad] + conf["RP"].split("-")
    out = os.path.join(tmp, name + ".kf")

    def run(what, data, stdin=False):
        path = os.path.join(tmp, name + "." + what.replace(" ", "-") + ".keys")
        with open(path, "wb") as f:
            f.write(data)
        if os.path.exists(out):
            os.unlink(out)
        if stdin:
            r = subprocess.run([CLI, "--json", "bitlocker", "unlock", img, "--key-file", "-",
                                "--output", out], capture_output=True, input=data)
            r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
            try:
                r.json = json.loads(r.stdout) if r.stdout.strip() else None
            except ValueError:
                r.json = None
            return r
        return cli("--json", "bitlocker", "unlock", img, "--key-file", path, "--output", out)

    for what, data, stdin in (("AD CSV", ad, False), ("Entra CSV", entra, False),
                              ("manage-bde UTF-16LE", manage_bde, False),
                              ("Entra CSV on stdin", entra, True)):
        r = run(what, data, stdin)
        ok(name + ": --key-file %s: exit 0, the recovery-password protector" % what,
           r.returncode == 0 and r.json and r.json["protector_guid"] == conf["RP_VMK_GUID"],
           (r.returncode, r.stdout, r.stderr))
        got = sha(out) if os.path.exists(out) else None
        ok(name + ": --key-file %s: SHA-256 = SHA256SUM" % what, got == want, got)
        ok(name + ": --key-file %s: no password in any output" % what,
           not any(x in r.stdout or x in r.stderr for x in secrets))
        if stdin:
            break   # one stdin case per image is enough

    r = run("others", others)
    ok(name + ": --key-file with other volumes' IDs only: exit 1, names the volume's "
       "protector ID, nothing written",
       r.returncode == 1 and conf["RP_VMK_GUID"] in r.stderr
       and "no recovery password for this volume" in r.stderr and not os.path.exists(out),
       (r.returncode, r.stderr))
    ok(name + ": --key-file with other volumes' IDs only: no password in any output",
       not any(x in r.stdout or x in r.stderr for x in secrets)
       and not any(c["RP"] in r.stderr for c in conf_all.values()))

    r = run("malformed", malformed)
    ok(name + ": --key-file, the right ID with a mistyped password: exit 1, line and group",
       r.returncode == 1 and "line 1" in r.stderr and "group 3" in r.stderr
       and conf["RP_VMK_GUID"] in r.stderr and not os.path.exists(out),
       (r.returncode, r.stderr))
    ok(name + ": --key-file, mistyped password: never echoed (stdout, stderr)",
       not any(x in r.stdout or x in r.stderr for x in secrets), r.stderr)

    if conf.get("SK_VMK_GUID"):
        r = cli("--json", "bitlocker", "unlock", img, "--key-file", bek_file(), "--output", out)
        ok(name + ": --key-file with the .BEK file: its startup-key protector",
           r.returncode == 0 and r.json and r.json["protector_guid"] == conf["SK_VMK_GUID"]
           and sha(out) == want, (r.returncode, r.stderr))
    if os.path.exists(out):
        os.unlink(out)


def test_key_file_errors(tmp, conf):
    img = unpack("bitlk-aes-xts-128", tmp)
    out = os.path.join(tmp, "kferr.out")
    junk = os.path.join(tmp, "junk.keys")
    with open(junk, "wb") as f:
        f.write(os.urandom(3000).replace(b"\0", b"x"))
    r = cli("bitlocker", "unlock", img, "--key-file", junk, "--output", out)
    ok("--key-file not a key file: exit 1, says what it expected",
       r.returncode == 1 and "holds no BitLocker recovery password" in r.stderr
       and not os.path.exists(out), r.stderr)
    big = os.path.join(tmp, "big.keys")
    with open(big, "wb") as f:
        f.write(b"x" * ((1 << 20) + 1))
    r = cli("bitlocker", "unlock", img, "--key-file", big, "--output", out)
    ok("--key-file larger than 1 MiB: exit 1, says so", r.returncode == 1 and
       "larger than" in r.stderr, r.stderr)
    r = cli("bitlocker", "unlock", img, "--key-file", os.path.join(tmp, "missing"),
            "--output", out)
    ok("--key-file missing: exit 1", r.returncode == 1 and "cannot open" in r.stderr, r.stderr)
    r = cli("bitlocker", "unlock", img, "--key-file", junk, "--bek", bek_file(), "--output", out)
    ok("--key-file with --bek: usage error (2)", r.returncode == 2, r.stderr)
    r = cli("bitlocker", "info", img, "--key-file", junk)
    ok("bitlocker info --key-file: usage error (2)", r.returncode == 2, r.stderr)
    r = cli("scan", img, "--key-file", junk)
    ok("scan --key-file not a key file: exit 1 before the volume is read",
       r.returncode == 1 and "holds no BitLocker recovery password" in r.stderr, r.stderr)
    other = os.path.join(tmp, "other.keys")
    with open(other, "w") as f:
        f.write("3fd763f9-74c7-4e90-8fa2-1f6a2e2b4e0c "
                "042647-302313-590458-071500-554323-116567-412181-516978\n")
    r = cli("scan", img, "--key-file", other)
    ok("scan --key-file for another volume: exit 1, names this volume's protector",
       r.returncode == 1 and conf["RP_VMK_GUID"] in r.stderr, r.stderr)
    right = os.path.join(tmp, "right.keys")
    with open(right, "w") as f:
        f.write("%s %s\n" % (conf["RP_VMK_GUID"], conf["RP"]))
    r = cli("scan", img, "--key-file", right)
    ok("scan --key-file with this volume's entry: unlocks it (the test volume inside is "
       "not NTFS, and scan says so)", "not NTFS" in r.stderr and "key file" not in r.stderr
       and conf["RP"] not in r.stderr, r.stderr)


def perf(tmp, conf):
    img = unpack("bitlk-aes-xts-128", tmp)
    out = os.path.join(tmp, "perf.out")
    t = []
    for cmd in ([CLI, "bitlocker", "unlock", img, "--recovery-password", conf["RP"],
                 "--output", out],
                ["dislocker-file", "-V", img, "-p" + conf["RP"], "--", out]):
        if os.path.exists(out):
            os.unlink(out)
        t0 = time.monotonic()
        subprocess.run(cmd, capture_output=True)
        t.append(time.monotonic() - t0)
    os.unlink(out) if os.path.exists(out) else None
    print("perf: bitlk-aes-xts-128 (100 MiB), recovery password to decrypted file: "
          "unloop %.2f s, dislocker-file %.2f s (ratio %.2f)" % (t[0], t[1], t[0] / t[1]))


def main():
    conf = images()
    tmp = tempfile.mkdtemp(prefix="unloop-bitlocker-")
    try:
        for name in conf:
            test_image(tmp, name, conf[name])
            test_key_file(tmp, name, conf)
        test_key_file_errors(tmp, conf["bitlk-aes-xts-128"])
        test_wrong_and_malformed(tmp, conf["bitlk-aes-xts-128"])
        test_damaged(tmp, conf["bitlk-aes-xts-128-startup-key"])
        test_partition(tmp, conf["bitlk-aes-xts-128-startup-key"])
        test_derived(tmp, conf["bitlk-aes-xts-128-startup-key"])
        if "--perf" in sys.argv or os.environ.get("UNLOOP_BITLOCKER_PERF"):
            perf(tmp, conf["bitlk-aes-xts-128"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary("bitlocker")


if __name__ == "__main__":
    sys.exit(main())
