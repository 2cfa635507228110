#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Signed policy (issue #7, deliverable 6): unloop.efi and the CLI built with a
policy key (`make policy-test`: build/policy-test/, a throwaway key pair made
by openssl there) accept \\EFI\\unloop\\unloop.conf only with an
unloop.conf.sig that verifies against that key.

The config adds a rule that quarantines a file no built-in rule matches
(\\ProgramData\\Acme\\*.dat; the machine's Acme file changed an hour ago) and
sets threshold = 1, so a single boot shows whether the config was used:
  (a) signed correctly: the menu's countdown quarantines the Acme file;
  (b) a signature that does not verify (over other bytes),
  (c) no signature: the file is ignored whole (built-in defaults: threshold
      3, no Acme rule), the console and the log say so, the file stays, and
      the machine reaches the loader.
The policy CLI (build/policy-test/unloop) judges the same ESP the same way.
  (d) the threat model's setting: Secure Boot on (Debian's snakeoil OVMF),
      the policy build signed with the snakeoil key; someone who can write
      the ESP but not sign binaries adds the rule: it is ignored, the signed
      unloop.efi runs and reaches the (signed) loader.

Usage: test_policy.py [-k NAME] [-j JOBS]. Needs `make all policy-test`.
Prints one line per test and a closing 'policy: N passed, M failed' line.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Machine  # noqa: E402

PB = os.path.join(harness.BUILD, "policy-test")
EFI = os.path.join(PB, "unloop.efi")
CLI = os.path.join(PB, "unloop")
KEY = os.path.join(PB, "test-key.pem")
WORK = os.path.join(harness.BUILD, "qemu", "policy")
BASE = os.path.join(WORK, "policy.img")
SB_BASE = os.path.join(WORK, "policy-secureboot.img")
EFI_SIGNED = os.path.join(PB, "unloop.signed.efi")
STUB_SIGNED = os.path.join(harness.BUILD, "stub-loader.signed.efi")

CONF_PATH = "\\EFI\\unloop\\unloop.conf"
SIG_PATH = "\\EFI\\unloop\\unloop.conf.sig"
ACME = "\\ProgramData\\Acme\\agent-update.dat"
CONF = b"""# signed test policy: one failed attempt is a loop; the Acme rule is ours
[unloop]
threshold = 1
menu_timeout = 1

[rule acme-agent]
path = \\ProgramData\\Acme\\*.dat
content = any
"""
REFUSED = "unloop.conf is not signed by the policy key built into unloop"


Failure = harness.Failure
check = harness.check


def sign(data):
    """A detached signature as the README tells an administrator to make it."""
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=data,
                       capture_output=True, check=True)
    return r.stdout


def build_base(out=BASE, loader=EFI, stub=None):
    """The test machine with unloop.efi of the policy build, CONF on its ESP
    and the Acme file (an hour old) on its NTFS volume."""
    os.makedirs(WORK, exist_ok=True)
    hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    stamp = hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = os.path.join(WORK, "policy.manifest")
    with open(os.path.join(harness.TOP, "images", "test-machine.manifest")) as f, \
            open(manifest, "w") as g:
        g.write(f.read())
        g.write("\ndir  \\ProgramData 2024-05-14T08:12:00Z\n"
                "dir  \\ProgramData\\Acme %s\n"
                "file %s %s hex:41434D45:4096\n" % (stamp, ACME, stamp))
    conf = os.path.join(WORK, "policy.conf")
    with open(conf, "wb") as f:
        f.write(CONF)
    subprocess.run([os.path.join(harness.TOP, "images", "build-test-machine.sh"), "--out", out,
                    "--loader", loader,
                    "--stub", stub or os.path.join(harness.BUILD, "stub-loader.efi"),
                    "--conf", conf, "--bcd", harness.TEST_BCD, "--manifest", manifest],
                   check=True)


def policy_cli(m, *args):
    """The policy build's CLI on a copy of the machine's \\EFI\\unloop (main()
    points harness.CLI at it for the whole run: every CLI call here wants it)."""
    return m.cli(*args)


def refused(m, sig, why):
    """Cases (b) and (c): the whole file ignored, said so, the machine boots."""
    if sig is not None:
        m.esp_write(SIG_PATH, sig)
    b = m.boot()
    check(b.reached_loader, "the loader was not reached", b)
    check(REFUSED in b.text, "no refusal message on the console", b)
    check("(%s)" % why in b.text, "the console does not say why (%s)" % why, b)
    check("using the built-in defaults" in b.text, "the console does not say what is used", b)
    check("boot loop detected" not in b.text, "threshold = 1 of the unsigned file was used", b)
    check(not any("unloop: quarantined " in ln for ln in b.text.split("\n")),
          "something was quarantined", b)
    check(m.ntfs_exists(ACME), "the Acme file was moved by the unsigned rule", b)
    log = (m.esp_read("\\EFI\\unloop\\log") or b"").decode("utf-8", "replace")
    check(REFUSED in log and why in log, "the refusal is not in \\EFI\\unloop\\log:\n" + log[-2000:])
    # The policy CLI reads the same ESP the same way.
    r = policy_cli(m, "policy", "verify")
    check(r.returncode == 1 and why in r.stdout,
          "policy verify: rc %d, %r %r" % (r.returncode, r.stdout, r.stderr))
    r = policy_cli(m, "status", "--json")
    st = json.loads(r.stdout)
    check(st["config"] == "errors" and st["config_errors"] == 1,
          "policy CLI status does not refuse the config: %r" % st)
    check(st["next_boot"] == "handoff", "the unsigned threshold = 1 counts: %r" % st)
    r = policy_cli(m, "scan", "--json", m.disk)
    check(r.returncode == 0, "policy CLI scan failed: %s" % r.stderr)
    check("agent-update.dat" not in r.stdout, "policy CLI scan used the unsigned rule: " + r.stdout)


def test_signed_config_is_applied(m):
    """(a) A correctly signed config: its rule quarantines the Acme file."""
    m.esp_write(SIG_PATH, sign(CONF))
    r = policy_cli(m, "policy", "verify")
    check(r.returncode == 0, "policy verify: rc %d, %r" % (r.returncode, r.stdout))
    r = policy_cli(m, "scan", "--json", m.disk)
    check("agent-update.dat" in r.stdout, "policy CLI scan does not see the signed rule: "
          + r.stdout + r.stderr)
    b = m.boot()
    check(b.reached_loader, "the loader was not reached", b)
    check("unloop.conf is signed by the policy key built into unloop" in b.text,
          "no 'signed' line on the console", b)
    check(REFUSED not in b.text, "a correctly signed config was refused", b)
    check("boot loop detected" in b.text, "threshold = 1 of the signed file not used", b)
    lines = [ln for ln in b.text.split("\n") if "unloop: quarantined " in ln and " -> " in ln]
    check(len(lines) == 1 and "agent-update.dat" in lines[0].lower(),
          "want one 'quarantined ... agent-update.dat' line", b)
    check(not m.ntfs_exists(ACME), "the Acme file is still in place", b)


def test_bad_signature_ignored(m):
    """(b) A well-formed signature over other bytes (an edited config)."""
    refused(m, sign(CONF + b"# edited after signing\n"), "signature does not verify")


def test_missing_signature_ignored(m):
    """(c) No unloop.conf.sig at all."""
    refused(m, None, "no unloop.conf.sig")


def build_secureboot_base():
    """The policy build and the stub signed with the snakeoil key (make's sign
    rule, efi/sign.mk), on a machine of their own."""
    passfile = os.path.join(WORK, "snakeoil.pass")
    with open(passfile, "w") as f:
        f.write("snakeoil\n")
    r = subprocess.run(["make", "-s", "-C", harness.TOP, os.path.relpath(EFI_SIGNED, harness.TOP),
                        os.path.relpath(STUB_SIGNED, harness.TOP),
                        "KEY=" + harness.SNAKEOIL_KEY, "CERT=" + harness.SNAKEOIL_CERT,
                        "KEY_PASS_FILE=" + passfile], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("make sign failed:\n" + r.stdout + r.stderr)
    build_base(SB_BASE, EFI_SIGNED, STUB_SIGNED)


def secureboot_unsigned_rule_ignored(m):
    """(d) Secure Boot, signed unloop.efi with the policy key: an unsigned edit
    of the rules is ignored and the machine boots."""
    refused(m, sign(CONF.replace(b"threshold = 1", b"threshold = 2")), "signature does not verify")


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
TESTS.append(secureboot_unsigned_rule_ignored)


def run_one(fn):
    name = fn.__name__.split("_", 1)[1] if fn.__name__.startswith("test_") else fn.__name__
    if name.startswith("secureboot"):
        m = Machine(SB_BASE, os.path.join(WORK, name), firmware=harness.SECURE_BOOT)
    else:
        m = Machine(BASE, os.path.join(WORK, name))
    return harness.run_on(fn, name, m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", help="run tests whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="VMs at once (default 2)")
    args = ap.parse_args()
    for f in (EFI, CLI, KEY):
        if not os.path.exists(f):
            print("policy: %s missing (make policy-test)" % f)
            print("policy: 0 passed, 1 failed")
            return 1
    harness.CLI = CLI
    tests = [t for t in TESTS if not args.k or args.k in t.__name__]
    build_base()
    if any(t.__name__.startswith("secureboot") for t in tests):
        build_secureboot_base()
    return harness.run_tests("policy", tests, run_one, args.j, width=45)


if __name__ == "__main__":
    sys.exit(main())
