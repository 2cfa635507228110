#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeds for tests/fuzz/fuzz-bitlocker.c, in tests/fuzz/corpus/bitlocker/.

The fuzz input is [volume header, 512 bytes][flags byte][metadata area]:
  - one seed per image in ../shared/testdata/bitlocker/: its header and its
    first metadata block (up to the validation structure), a few KB each;
  - the .BEK file of the startup-key image, behind that image's header;
  - a crafted volume with a clear-key protector (protection suspended), so
    the fuzzer reaches the unlock and the sector reads: the VMK and FVEK
    are wrapped here with AES-CCM (python3-cryptography), laid out as
    [bde] / shared/bitlocker.c read them.
Run once by hand; the seeds are committed.  Usage: make_fuzz_seeds.py [OUTDIR]
"""
import lzma, os, struct, sys, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "..", "shared", "testdata", "bitlocker")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fuzz", "corpus", "bitlocker")


def real_seed(img):
    raw = lzma.open(os.path.join(DATA, img)).read()
    hdr = raw[:512]
    m1 = struct.unpack_from("<Q", hdr, 0xb0)[0]
    size = struct.unpack_from("<H", raw, m1 + 8)[0] * 16
    return hdr, raw[m1:m1 + size + 8]


def entry(etype, vtype, body):
    return struct.pack("<HHHH", 8 + len(body), etype, vtype, 1) + body


def key_entry(method, key):
    return entry(0, 1, struct.pack("<I", method) + key)


def ccm_entry(etype, wrap, payload, nonce):
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    ct = AESCCM(wrap, tag_length=16).encrypt(nonce, payload, None)
    return entry(etype, 5, nonce + ct[-16:] + ct[:-16])


def crafted():
    meta = [0x10000, 0x30000, 0x50000]
    hdr = bytearray(512)
    hdr[0:3] = b"\xeb\x58\x90"
    hdr[3:11] = b"-FVE-FS-"
    struct.pack_into("<H", hdr, 11, 512)
    hdr[0xa0:0xb0] = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")
    struct.pack_into("<QQQ", hdr, 0xb0, *meta)
    hdr[510:512] = b"\x55\xaa"
    clear, vmk, fvek = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))
    vmk_body = (bytes(range(0xc0, 0xd0)) + struct.pack("<QHH", 0, 0, 0)
                + key_entry(0x2000, clear)
                + ccm_entry(0, clear, key_entry(0x2000, vmk), b"\1" * 12))
    ents = (entry(7, 2, "FUZZ C: 1/1/2024\0".encode("utf-16-le"))
            + entry(2, 8, vmk_body)
            + ccm_entry(3, vmk, key_entry(0x8004, fvek), b"\2" * 12)
            + entry(15, 15, struct.pack("<QQ", 0x20000, 0x2000)))
    ds = struct.pack("<IIII", 48 + len(ents), 1, 48, 48 + len(ents)) + b"\xd5" * 16 \
        + struct.pack("<IHHQ", 5, 0x8004, 0, 0)
    body = ds + ents
    total = (64 + len(body) + 15) // 16 * 16
    blk = bytearray(b"-FVE-FS-" + struct.pack("<HHHHQII", total // 16, 2, 4, 4, 0x100000, 0, 16)
                    + struct.pack("<QQQQ", *meta, 0x20000) + body)
    blk += bytes(total - len(blk))
    blk += struct.pack("<HHI", 8, 1, zlib.crc32(bytes(blk)))
    return bytes(hdr), bytes(blk)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    for img in sorted(os.listdir(DATA)):
        if img.endswith(".img.xz"):
            hdr, blk = real_seed(img)
            seeds[img[:-7]] = hdr + b"\0" + blk
            if "startup-key" in img:
                bek = [f for f in os.listdir(DATA) if f.endswith(".BEK")][0]
                seeds["bek-file"] = hdr + b"\0" + open(os.path.join(DATA, bek), "rb").read()
    hdr, blk = crafted()
    seeds["crafted-clear-key-xts"] = hdr + b"\0" + blk
    seeds["crafted-copy1-damaged"] = hdr + b"\1" + blk
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("%s: %d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
