#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""scan / quarantine / journal / restore on a BitLocker volume unlocked with a
key (recovery/bitlocker-volume.c under libntfs-3g), with dislocker and the
ntfs-3g tools as oracles.

The Windows-made images in ../shared/testdata/bitlocker/ keep their real
BitLocker metadata and keys, but their NTFS content is not mountable (most
$MFT records were scrubbed before publication: ntfsinfo fails on the
published plaintext).  So each test volume is derived: a fresh 32 MiB NTFS
volume (mkntfs, files added through ntfs-3g) is written into the unlocked
image through dislocker-fuse, an independent BitLocker writer; the NTFS
volume ends before the first BitLocker metadata copy and the relocated boot
sectors, which the test checks, and its boot sector is also copied to the
volume's last sector (ntfsfix looks for the backup there).

For the AES-XTS image and the AES-CBC + Elephant image:
  - without a key: exit 1, the BitLocker message, image unchanged;
  - wrong and malformed recovery passwords, wrong password: exit 1, a clear
    message, image unchanged (SHA-256);
  - scan with the recovery password lists the planted driver file;
  - quarantine moves it: dislocker-file decrypts the image, ntfsls sees it
    moved, ntfscat reads it byte-identical in the quarantine, ntfsfix -n
    finds the volume consistent, BitLocker's metadata and the volume header
    are untouched, bitlocker info still reads all three copies;
  - journal (password from stdin) lists it;
  - restore puts it back byte-identical, ntfsfix -n consistent.
Also the volume as partition 2 of a GPT disk image, found by
\\Windows\\System32 inside it; and the device layer alone (a small harness
driving its ntfs_device_operations, ASan/UBSan): writes into the relocated
boot sectors, across their end, partial sectors, refused writes into
BitLocker's metadata and the relocated area, each checked against what
dislocker-file decrypts afterwards.

Prints 'bitlocker-quarantine: N passed, N failed'."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("UNLOOP_CLI") or os.path.join(TOP, "build", "unloop")
DATA = os.path.abspath(os.path.join(TOP, "..", "shared", "testdata", "bitlocker"))
NTFS_SIZE = 32 << 20
DRIVER = "\\Windows\\System32\\drivers\\Acme\\C-00000291-test.sys"
RULES = ("[rule acme-channel]\n"
         "path = \\Windows\\System32\\drivers\\Acme\\C-00000291*.sys\n"
         "content = any\n")


def run(cmd, stdin=None, check=False):
    return subprocess.run(cmd, capture_output=True, text=True, input=stdin, check=check)


def cli(*args, stdin=None):
    return run([CLI] + list(args), stdin=stdin)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def images():
    conf, cur = {}, None
    with open(os.path.join(DATA, "images.conf")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                cur = conf.setdefault(line.strip("[]"), {})
            elif "=" in line and cur is not None:
                k, v = line.split("=", 1)
                cur[k] = v
    return conf


def unmount(d):
    if os.path.ismount(d):
        run(["fusermount", "-u", d]) if shutil.which("fusermount") else None
        if os.path.ismount(d):
            run(["umount", d])


def plain_volume(tmp):
    """A 32 MiB NTFS volume with \\Windows\\System32, one driver file and keep.txt,
    written through libntfs-3g by images/ntfs-populate (no FUSE)."""
    img = os.path.join(tmp, "plain-src.img")
    with open(img, "wb") as f:
        f.truncate(NTFS_SIZE)
    run(["mkntfs", "-q", "-F", "-Q", "-s", "512", "-c", "4096", "-L", "Windows", img],
        check=True)
    manifest = os.path.join(tmp, "plain.manifest")
    with open(manifest, "w") as f:
        f.write("dir \\Windows\\System32 2026-11-01T10:00:00Z\n")
        f.write("file %s 2026-11-20T10:00:00Z hex:AAAAAAAA:28000\n" % DRIVER.replace("/", "\\"))
        f.write("file \\keep.txt 2026-11-01T10:00:00Z text:stays where it is\n")
    run([os.path.join(TOP, "build", "images", "ntfs-populate"), img, manifest], check=True)
    return img


def derive(tmp, name, conf, plain):
    """The published image with plain written into it through dislocker-fuse."""
    img = os.path.join(tmp, name + ".img")
    with open(img, "wb") as f:
        subprocess.run(["xz", "-dc", os.path.join(DATA, name + ".img.xz")], stdout=f,
                       check=True)
    size = os.path.getsize(img)
    mnt = os.path.join(tmp, "fve-mnt")
    os.makedirs(mnt, exist_ok=True)
    r = run(["dislocker-fuse", "-V", img, "-p" + conf["RP"], "--", mnt])
    if r.returncode != 0:
        raise RuntimeError("dislocker-fuse: " + r.stderr + r.stdout)
    try:
        target = os.path.join(mnt, "dislocker-file")
        with open(plain, "rb") as src, open(target, "r+b") as dst:
            data = src.read()
            dst.write(data)
            dst.seek(size - 512)
            dst.write(data[:512])   # backup boot sector at the volume's end
            dst.flush()
            os.fsync(dst.fileno())
    finally:
        unmount(mnt)
    return img


def decrypt(tmp, img, rp, out_name="dec.img"):
    out = os.path.join(tmp, out_name)
    if os.path.exists(out):
        os.unlink(out)
    r = run(["dislocker-file", "-V", img, "-p" + rp, out])
    return out if r.returncode == 0 and os.path.exists(out) else None


def ntfsls(vol, path):
    r = run(["ntfsls", "-f", "-p", path, vol])
    return r.stdout.split() if r.returncode == 0 else None


def ntfscat(vol, path):
    r = subprocess.run(["ntfscat", "-f", vol, path.replace("\\", "/")], capture_output=True)
    return hashlib.sha256(r.stdout).hexdigest() if r.returncode == 0 else None


def ntfsfix_ok(vol):
    r = run(["ntfsfix", "-n", vol])
    return r.returncode == 0, (r.stdout + r.stderr).strip().splitlines()[-1:]


def protected_areas(img, info, header_offset):
    """The bytes BitLocker owns: the volume header and the three metadata
    copies (64 KiB each), and the relocated boot sectors."""
    h = hashlib.sha256()
    with open(img, "rb") as f:
        for off, n in ([(0, 8192)] + [(c["offset"], 65536) for c in info["metadata_copies"]]
                       + [(header_offset, 8192)]):
            f.seek(off)
            h.update(f.read(n))
    return h.hexdigest()


def header_backup(img):
    r = run(["dislocker-metadata", "-V", img])
    m = re.search(r"Boot sectors backup address:\s+0x([0-9a-fA-F]+)", r.stdout + r.stderr)
    return int(m.group(1), 16) if m else None


def test_image(tmp, name, conf, plain, payload_sha, rules):
    tag = name + ": "
    rp = conf["RP"]
    img = derive(tmp, name, conf, plain)
    r = cli("--json", "bitlocker", "info", img)
    info = json.loads(r.stdout) if r.returncode == 0 else None
    hb = header_backup(img)
    first_zero = min([c["offset"] for c in info["metadata_copies"]] + [hb or 0]) if info else 0
    ok(tag + "fixture: NTFS volume ends before BitLocker's metadata and relocated sectors",
       info and hb and first_zero >= NTFS_SIZE, (info, hb))
    dec = decrypt(tmp, img, rp)
    ok(tag + "fixture: dislocker-file reads back the NTFS volume written through "
       "dislocker-fuse", dec and ntfscat(dec, DRIVER) == payload_sha)
    before = sha(img)
    owned = protected_areas(img, info, hb)

    r = cli("scan", img)
    ok(tag + "no key: exit 1, says it is BitLocker and which options unlock it",
       r.returncode == 1 and "BitLocker" in r.stderr and "--recovery-password" in r.stderr,
       r.stderr)
    groups = rp.split("-")
    wrong = "-".join(groups[:7] + ["%06d" % ((int(groups[7]) + 11) % 720896 // 11 * 11)])
    r = cli("quarantine", "--config", rules, "--since", "@0", "--recovery-password", wrong, img)
    ok(tag + "wrong recovery password: exit 1, 'wrong recovery password', nothing written",
       r.returncode == 1 and "wrong recovery password" in r.stderr and sha(img) == before,
       r.stderr)
    r = cli("quarantine", "--config", rules, "--since", "@0", "--recovery-password",
            rp[:-1] + "1", img)
    ok(tag + "malformed recovery password: exit 1, 'malformed', nothing written",
       r.returncode == 1 and "malformed recovery password" in r.stderr and sha(img) == before,
       r.stderr)
    r = cli("restore", "--password", "not-" + conf.get("PW", "x"), img)
    ok(tag + "wrong password: exit 1, 'wrong password', nothing written",
       r.returncode == 1 and "wrong password" in r.stderr and sha(img) == before, r.stderr)
    ok(tag + "no secret in any message", all(rp not in x for x in (r.stderr, r.stdout)))

    r = cli("--json", "scan", "--config", rules, "--since", "@0", "--recovery-password", rp, img)
    cands = [c["path"] for c in json.loads(r.stdout)["candidates"]] if r.returncode == 0 else []
    ok(tag + "scan with the recovery password lists the driver file",
       DRIVER in cands and sha(img) == before, r.stderr + r.stdout)

    r = cli("--json", "quarantine", "--config", rules, "--rule", "acme-channel", "--since", "@0",
            "--recovery-password", "-", img, stdin=rp + "\n")
    rep = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
    ok(tag + "quarantine (recovery password from stdin): exit 0, 1 moved",
       r.returncode == 0 and rep.get("moved") == 1, r.stderr + r.stdout)
    run_id = rep.get("run")
    qpath = "\\unloop.quarantine\\%s%s" % (run_id, DRIVER)
    dec = decrypt(tmp, img, rp)
    ok(tag + "after quarantine: dislocker-file decrypts the image", dec is not None)
    if dec:
        acme = ntfsls(dec, "/Windows/System32/drivers/Acme")
        ok(tag + "after quarantine: ntfsls: the file is gone from its directory",
           acme is not None and "C-00000291-test.sys" not in acme, acme)
        ok(tag + "after quarantine: ntfscat: byte-identical in the quarantine",
           ntfscat(dec, qpath) == payload_sha, qpath)
        ok(tag + "after quarantine: the other files are untouched",
           ntfscat(dec, "/keep.txt") == hashlib.sha256(b"stays where it is").hexdigest())
        good, last = ntfsfix_ok(dec)
        ok(tag + "after quarantine: ntfsfix -n finds the volume consistent", good, last)
    ok(tag + "after quarantine: BitLocker's header, metadata and relocated sectors unchanged",
       protected_areas(img, info, hb) == owned)
    r = cli("--json", "bitlocker", "info", img)
    ok(tag + "after quarantine: bitlocker info reads all three metadata copies",
       r.returncode == 0 and all(c["valid"] for c in json.loads(r.stdout)["metadata_copies"]),
       r.stderr)

    r = cli("--json", "journal", "--password", "-", img, stdin=conf["PW"] + "\n")
    files = json.loads(r.stdout)["files"] if r.returncode == 0 else []
    ok(tag + "journal (password from stdin) lists the quarantined file",
       any(f["path"] == DRIVER and f["state"] for f in files), r.stderr + r.stdout)

    r = cli("restore", "--recovery-password", rp, img)
    ok(tag + "restore: exit 0", r.returncode == 0 and "1 restored" in r.stdout,
       r.stderr + r.stdout)
    dec = decrypt(tmp, img, rp)
    if dec:
        ok(tag + "after restore: ntfscat: back in place, byte-identical",
           ntfscat(dec, DRIVER) == payload_sha)
        ok(tag + "after restore: no longer in the quarantine", ntfscat(dec, qpath) is None)
        good, last = ntfsfix_ok(dec)
        ok(tag + "after restore: ntfsfix -n finds the volume consistent", good, last)
    else:
        ok(tag + "after restore: dislocker-file decrypts the image", False)
    ok(tag + "after restore: BitLocker's header, metadata and relocated sectors unchanged",
       protected_areas(img, info, hb) == owned)
    return img


# The device layer alone, as libntfs-3g drives it (its ntfs_device_operations),
# compiled with ASan/UBSan from the same sources the CLI links.
HARNESS_C = r"""/* Writes through recovery/bitlocker-volume.c's device ops, as libntfs-3g would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntfs-3g/types.h>
#include <ntfs-3g/device.h>
#include "../shared/bcd-store.h"
#include "../shared/bitlocker.h"
#include "bitlocker-volume.h"

static void *mem_alloc(void *ctx, size_t size) { (void)ctx; return calloc(1, size); }
static void mem_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops ops = { .alloc = mem_alloc, .free = mem_free };
const struct ul_mem cli_mem = { &ops, NULL };
const char *prog = "blvol-write";

int main(int argc, char **argv)
{
    struct ul_blvol *bv;
    char err[512];
    const char *why = NULL;
    if (argc < 3 || ul_blvol_open(argv[1], 0, 0, &bv, err, sizeof(err)) < 0) {
        fprintf(stderr, "open: %s\n", argc < 3 ? "usage" : err);
        return 2;
    }
    if (ul_bitlocker_unlock_recovery_password(ul_blvol_bitlocker(bv), argv[2], NULL, &why) < 0) {
        fprintf(stderr, "unlock: %s\n", why ? why : "?");
        return 2;
    }
    struct ul_ntfs_dev d;
    ul_blvol_ntfs_dev(bv, &d);
    ul_blvol_unref(bv);
    struct ntfs_device *dev = ntfs_device_alloc(d.name, 0, d.ops, d.priv);
    if (!dev || dev->d_ops->open(dev, O_RDWR) < 0) {
        perror("device open");
        return 2;
    }
    /* w OFFSET LENGTH BYTE ...: prints "ok" or the errno name per write */
    for (int i = 3; i + 3 < argc + 0 && strcmp(argv[i], "w") == 0; i += 4) {
        long long off = strtoll(argv[i + 1], NULL, 0), len = strtoll(argv[i + 2], NULL, 0);
        unsigned char *buf = malloc((size_t)len);
        memset(buf, (int)strtol(argv[i + 3], NULL, 0), (size_t)len);
        errno = 0;
        s64 n = dev->d_ops->pwrite(dev, buf, len, off);
        printf("%s\n", n == len ? "ok" : errno == EIO ? "EIO" : "other");
        free(buf);
    }
    int r = dev->d_ops->close(dev);
    ntfs_device_free(dev);
    d.release(d.priv);
    return r < 0 ? 1 : 0;
}
"""


def build_harness(tmp):
    src = os.path.join(tmp, "blvol-write.c")
    exe = os.path.join(tmp, "blvol-write")
    with open(src, "w") as f:
        f.write(HARNESS_C)
    r = run(["cc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
             "-Wno-unused-parameter", "-fsanitize=address,undefined", "-D_GNU_SOURCE",
             "-I" + os.path.join(TOP, "recovery"), "-I" + os.path.join(TOP, "shared"),
             "-o", exe, src] +
            [os.path.join(TOP, x) for x in ("recovery/bitlocker-volume.c", "recovery/fd-io.c",
                                             "recovery/ntfs-window.c", "shared/bitlocker.c",
                                             "shared/string-util.c", "shared/gpt.c",
                                             "shared/crc32.c")] +
            ["-lntfs-3g", "-lmbedcrypto"])
    ok("device-layer harness builds", r.returncode == 0, r.stderr)
    return exe if r.returncode == 0 else None


def test_device_writes(tmp, exe, name, conf):
    """Writes at every kind of place, against dislocker-file's view after."""
    tag = name + ": device layer: "
    img = os.path.join(tmp, name + "-raw.img")
    with open(img, "wb") as f:
        subprocess.run(["xz", "-dc", os.path.join(DATA, name + ".img.xz")], stdout=f,
                       check=True)
    info = json.loads(cli("--json", "bitlocker", "info", img).stdout)
    hb = header_backup(img)
    meta = [c["offset"] for c in info["metadata_copies"]]
    before = decrypt(tmp, img, conf["RP"], "dev-before.img")
    with open(before, "rb") as f:
        expect = bytearray(f.read())
    with open(img, "rb") as f:
        raw = f.read()
    os.unlink(before)
    writes = [  # offset, length, byte, expected result
        (1000, 100, 0xa5, "ok"),         # part of a relocated boot sector
        (0, 512, 0x44, "ok"),            # the boot sector itself
        (7680, 1536, 0x5a, "ok"),        # across the end of the relocated sectors
        (5242980, 600, 0x33, "ok"),      # two partial sectors, encrypted in place
        (meta[0], 512, 0x11, "EIO"),     # BitLocker metadata: refused
        (meta[1] + 4096, 512, 0, "ok"),  # metadata, as presented (zeros): a no-op
        (hb, 512, 0x22, "EIO"),          # the relocated sectors' own area: refused
    ]
    args = [exe, img, conf["RP"]]
    for off, n, v, _ in writes:
        args += ["w", str(off), str(n), str(v)]
    r = run(args)
    got = r.stdout.split()
    ok(tag + "writes done or refused as expected (sanitizers quiet)",
       r.returncode == 0 and got == [w[3] for w in writes] and "runtime error" not in r.stderr
       and "Sanitizer" not in r.stderr, (got, r.stderr))
    for off, n, v, res in writes:
        if res == "ok":
            expect[off:off + n] = bytes([v]) * n
    after = decrypt(tmp, img, conf["RP"], "dev-after.img")
    with open(after, "rb") as f:
        ok(tag + "dislocker-file reads exactly what was written (relocated sectors included)",
           f.read() == bytes(expect))
    os.unlink(after)
    with open(img, "rb") as f:
        now = f.read()
    owned = [(0, 8192)] + [(m, 65536) for m in meta]
    ok(tag + "the volume header and the metadata copies are unchanged on disk",
       all(now[o:o + n] == raw[o:o + n] for o, n in owned))
    ok(tag + "relocated-sector writes landed in their relocated copy",
       now[hb:hb + 8192] != raw[hb:hb + 8192])
    os.unlink(img)


def test_partition(tmp, img, conf, payload_sha, rules):
    """The volume as partition 2 of a GPT disk image, found by \\Windows\\System32."""
    rp = conf["RP"]
    size = os.path.getsize(img)
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate((2 << 20) + size + (2 << 20))
    layout = ("label: gpt\n"
              "start=2048, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
              "start=4096, size=%d, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n" % (size // 512))
    run(["sfdisk", "-q", disk], stdin=layout, check=True)
    run(["dd", "if=" + img, "of=" + disk, "bs=1M", "seek=2", "conv=notrunc,sparse",
         "status=none"], check=True)
    r = cli("scan", disk)
    ok("GPT disk: no key: partition 2 skipped as BitLocker, exit 1",
       r.returncode == 1 and "partition 2 is BitLocker-encrypted" in r.stderr, r.stderr)
    r = cli("--json", "quarantine", "--config", rules, "--since", "@0",
            "--recovery-password", rp, disk)
    rep = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
    ok("GPT disk: quarantine finds the Windows volume in partition 2 and moves the file",
       rep.get("partition") == 2 and rep.get("moved") == 1, r.stderr + r.stdout)
    part = os.path.join(tmp, "part.img")
    run(["dd", "if=" + disk, "of=" + part, "bs=1M", "skip=2", "count=%d" % (size >> 20),
         "status=none"], check=True)
    dec = decrypt(tmp, part, rp, "part-dec.img")
    ok("GPT disk: after quarantine, dislocker-file + ntfscat find it in the quarantine",
       dec and ntfscat(dec, DRIVER) is None and
       ntfscat(dec, "\\unloop.quarantine\\%s%s" % (rep.get("run"), DRIVER)) == payload_sha)
    r = cli("restore", "--partition", "2", "--recovery-password", rp, disk)
    run(["dd", "if=" + disk, "of=" + part, "bs=1M", "skip=2", "count=%d" % (size >> 20),
         "status=none"], check=True)
    dec = decrypt(tmp, part, rp, "part-dec.img")
    ok("GPT disk: restore --partition 2 puts it back byte-identical, ntfsfix -n consistent",
       r.returncode == 0 and dec and ntfscat(dec, DRIVER) == payload_sha and ntfsfix_ok(dec)[0],
       r.stderr)
    for p in (disk, part, os.path.join(tmp, "part-dec.img")):
        if os.path.exists(p):
            os.unlink(p)


def main():
    conf = images()
    missing = [t for t in ("dislocker-fuse", "dislocker-file", "dislocker-metadata",
                           "mkntfs", "ntfsls", "ntfscat", "ntfsfix", "sfdisk")
               if not shutil.which(t)]
    if not missing and not os.path.exists("/dev/fuse"):
        # dislocker-fuse writes the test volumes into the encrypted images (an
        # independent writer); without FUSE there is no way to make them.
        print("SKIP: /dev/fuse is missing here: the BitLocker quarantine tests need "
              "dislocker-fuse to build their volumes")
        summary("bitlocker-quarantine")
        return 0
    if missing or not os.access(CLI, os.X_OK):
        ok("prerequisites (%s, /dev/fuse, build/unloop)" % ", ".join(missing or ["tools"]),
           False, "missing: %s" % missing)
        return summary("bitlocker-quarantine")
    tmp = tempfile.mkdtemp(prefix="unloop-blq-", dir=os.path.join(TOP, "build"))
    try:
        rules = os.path.join(tmp, "rules.conf")
        with open(rules, "w") as f:
            f.write(RULES)
        plain = plain_volume(tmp)
        payload_sha = ntfscat(plain, DRIVER)
        img = None
        for name in ("bitlk-aes-xts-128", "bitlk-aes-cbc-elephant-128"):
            try:
                i = test_image(tmp, name, conf[name], plain, payload_sha, rules)
                img = img or i
            except (RuntimeError, subprocess.CalledProcessError, ValueError, KeyError) as e:
                ok(name + ": runs", False, e)
        if img:
            test_partition(tmp, img, conf["bitlk-aes-xts-128"], payload_sha, rules)
        exe = build_harness(tmp)
        if exe:
            for name in ("bitlk-aes-xts-128", "bitlk-aes-cbc-elephant-128"):
                test_device_writes(tmp, exe, name, conf[name])
    finally:
        for d in ("ntfs-mnt", "fve-mnt"):
            unmount(os.path.join(tmp, d))
        shutil.rmtree(tmp, ignore_errors=True)
    return summary("bitlocker-quarantine")


if __name__ == "__main__":
    sys.exit(main())
