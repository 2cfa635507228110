#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench: healthy-boot overhead of unloop, measured side by side in one run.

Peer: the same machine booting the stub loader directly (OVMF -> stub) versus
through unloop (OVMF -> unloop.efi -> stub). Each run is a fresh QEMU process
under TCG (no KVM here); the figure is the host time from QEMU start to the
stub's marker on the serial console. unloop's own time from entry to
StartImage is measured inside the guest (TSC, calibrated against a 10 ms
Stall; only with log_level = debug, which this benchmark sets).
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "7"))
OUT = os.path.join(harness.BUILD, "bench")


def boot_once(m, name, bless, times, own):
    b = m.boot()
    if not b.reached_loader:
        raise SystemExit("bench: %s did not reach the stub loader:\n%s" % (name, b.text))
    times.append(b.marks[harness.STUB_MARKER])
    mo = re.search(r"time from entry to StartImage: (\d+) us", b.text)
    if mo:
        own.append(int(mo.group(1)))
    if bless:
        m.bless()


def main():
    os.makedirs(OUT, exist_ok=True)
    conf = os.path.join(OUT, "bench.conf")
    with open(conf, "w") as f:
        f.write("[unloop]\nlog_level = debug\n")
    direct = harness.build_image(os.path.join(OUT, "direct.img"), direct=True)
    via = harness.build_image(os.path.join(OUT, "unloop.img"), conf=conf)

    # Alternate the two so that drift in host load hits both alike; one
    # warm-up boot each (OVMF's first boot on fresh NVRAM enumerates options).
    md_, mu_ = Machine(direct, os.path.join(OUT, "direct")), Machine(via, os.path.join(OUT, "unloop"))
    d, u, own, scratch = [], [], [], []
    try:
        boot_once(md_, "direct", False, scratch, scratch)
        boot_once(mu_, "unloop", True, scratch, scratch)
        for _ in range(REPS):
            boot_once(md_, "direct", False, d, scratch)
            boot_once(mu_, "unloop", True, u, own)
    finally:
        md_.cleanup()
        mu_.cleanup()

    md, mu = statistics.median(d), statistics.median(u)
    print("healthy-boot overhead, %d boots each (after one warm-up), alternating, QEMU/OVMF under TCG"
          % REPS)
    print("  %-34s median %6.3f s   runs %s" % ("OVMF -> stub loader (direct)", md,
                                                " ".join("%.2f" % x for x in d)))
    print("  %-34s median %6.3f s   runs %s" % ("OVMF -> unloop -> stub loader", mu,
                                                " ".join("%.2f" % x for x in u)))
    print("  ratio unloop/direct: %.3f   (%+.3f s per boot; spread of the direct runs %.3f s)"
          % (mu / md, mu - md, max(d) - min(d)))
    if own:
        print("  unloop entry -> StartImage (in guest, TCG): median %d us   runs %s"
              % (statistics.median(own), " ".join(str(x) for x in own)))
    else:
        print("  unloop entry -> StartImage: not reported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
