#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write an unloop state file from the layout documented in
shared/unloop-contract.h, with Python's zlib CRC-32: an independent writer,
so the CLI's reader is checked against the documented format, not itself.
Usage: mkstate.py FILE attempts=N [seq=N last_good=SECS slot=0|1 boots=N rung=N flags=N]"""
import struct
import sys
import zlib

args = dict(a.split("=", 1) for a in sys.argv[2:])
v = {k: int(args.get(k, d)) for k, d in
     dict(attempts=0, seq=1, last_good=0, slot=0, boots=0, rung=0, fixed_by=0,
          first=0, last=0, tz=0x7FF, flags=0).items()}
body = struct.pack("<IHHIIIBBHQqqh10x", 0x54534C55, 1, 64, v["seq"], v["attempts"], v["boots"],
                   v["rung"], v["fixed_by"], v["flags"], v["last_good"], v["first"], v["last"], v["tz"])
assert len(body) == 60
slot = body + struct.pack("<I", zlib.crc32(body))
data = bytearray(8192)
off = 4096 * v["slot"]
data[off:off + 64] = slot
with open(sys.argv[1], "wb") as f:
    f.write(data)
