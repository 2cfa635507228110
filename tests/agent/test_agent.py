#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""unloop-agent run for real.

Linux: build/agent/unloop-agent against a directory ESP holding the state a
failed boot left (written by tests/cli/mkstate.py, read back with `unloop
status --json` and with an independent decoder below).

Windows: build/agent/unloop-agent.exe under Wine (WINEPREFIX in build/wine):
the same states blessed through Z:\\, the SCM service checks, the Safe Mode
hook failing cleanly (Wine has no bcdedit.exe), registry settings, and the
service itself: --install, started by Wine's service control manager, blesses;
SERVICE_CONTROL_STOP stops it; --uninstall removes it and its Safe Mode keys.
Not testable under Wine: finding the ESP by its GPT type (Wine's volumes
answer no IOCTL_DISK_GET_PARTITION_INFO_EX; the test checks the clean error),
bcdedit itself, a real reboot.

Nothing here asserts on elapsed time: waits are for conditions, with
generous timeouts.  Closing line: "agent: N passed, M failed".
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.path.join(ROOT, "build")
AGENT = os.path.join(B, "agent", "unloop-agent")
AGENT_EXE = os.path.join(B, "agent", "unloop-agent.exe")
CLI = os.path.join(B, "unloop")
MKSTATE = os.path.join(ROOT, "tests", "cli", "mkstate.py")
WINE = os.environ.get("WINE", "/usr/lib/wine/wine64")
WINESERVER = "/usr/lib/wine/wineserver64"
PREFIX = os.path.join(B, "wine")

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}" + (f"\n     {detail}" if detail else ""))
    return cond


def decode_state(path):
    """The newest valid slot, per shared/unloop-contract.h; None if none."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return None
    best = None
    for slot in (0, 1):
        raw = data[slot * 4096:slot * 4096 + 64]
        if len(raw) < 64:
            continue
        magic, ver, size = struct.unpack_from("<IHH", raw)
        if magic != 0x54534C55 or ver != 1 or size != 64:
            continue
        if struct.unpack_from("<I", raw, 60)[0] != zlib.crc32(raw[:60]):
            continue
        seq, attempts, boots, rung, fixed_by, flags, last_good = struct.unpack_from(
            "<IIIBBHQ", raw, 8)
        rec = dict(slot=slot, seq=seq, attempts=attempts, boots=boots, rung=rung,
                   fixed_by=fixed_by, flags=flags, last_good=last_good)
        if best is None or ((seq - best["seq"]) & 0xFFFFFFFF) < 0x80000000 and seq != best["seq"]:
            best = rec
    return best


def make_esp(base, name, **state):
    esp = os.path.join(base, name)
    os.makedirs(os.path.join(esp, "EFI", "unloop"))
    if state is not None and state.get("missing") is None:
        args = [f"{k}={v}" for k, v in state.items()]
        subprocess.run([sys.executable, MKSTATE, os.path.join(esp, "EFI", "unloop", "state")]
                       + args, check=True)
    return esp


def state_path(esp):
    return os.path.join(esp, "EFI", "unloop", "state")


def status(esp):
    r = subprocess.run([CLI, "status", "--esp", esp, "--json"], capture_output=True, text=True)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": r.stderr}


def run(cmd, timeout=120, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def read(path):
    try:
        return open(path, "rb").read()
    except FileNotFoundError:
        return None


# A failed boot: three attempts, ladder step 2 acted on, last good 3 days ago.
FAILED = dict(attempts=3, rung=2, seq=7, boots=9, last_good=1721340000, slot=0)
# unloop set one-shot Safe Mode (ladder step 4) and that boot came up.
SAFEMODE = dict(attempts=5, rung=4, flags=1, seq=11, boots=20, last_good=1721340000, slot=1)


def linux_tests(tmp):
    print("== Linux native build")
    start = int(time.time())

    # 1. The failed boot's state is blessed.
    esp = make_esp(tmp, "l-bless", **FAILED)
    s = status(esp)
    check("linux: prepared state is a boot loop", s.get("attempts") == 3 and s.get("loop_detected"),
          str(s))
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once"])
    s = status(esp)
    d = decode_state(state_path(esp))
    check("linux: --once blesses (exit 0)", r.returncode == 0, r.stderr)
    check("linux: status shows attempts 0, fixed by quarantine-newest",
          s.get("attempts") == 0 and s.get("fixed_by") == "quarantine-newest"
          and s.get("state") == "ok", str(s))
    check("linux: last_good is now, seq advanced by one, other slot written",
          d and d["last_good"] >= start and d["seq"] == 8 and d["slot"] == 1 and d["boots"] == 9,
          str(d))
    log = (read(os.path.join(esp, "EFI", "unloop", "log")) or b"").decode(errors="replace")
    check("linux: the ESP log says who blessed", "boot blessed by the agent: 3 attempts reset"
          in log, log)

    # 2. A service check that fails: nothing written, exit 3.
    esp = make_esp(tmp, "l-unhealthy", **FAILED)
    before = read(state_path(esp))
    flagdir = os.path.join(tmp, "running")
    os.makedirs(flagdir, exist_ok=True)
    check_cmd = f"sh -c 'test -e {flagdir}/\"$0\" || exit 3'"
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once", "--services", "CSFalconService",
             "--check-cmd", check_cmd])
    check("linux: failing check -> exit 3, no bless", r.returncode == 3 and
          read(state_path(esp)) == before and "CSFalconService is not running" in r.stderr,
          f"rc={r.returncode} {r.stderr}")
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once", "--services", "NoSuchUnit",
             "--check-cmd", "sh -c 'exit 4'"])
    check("linux: a service that is not installed fails the check", r.returncode == 3 and
          "NoSuchUnit is not installed" in r.stderr and read(state_path(esp)) == before,
          r.stderr)

    # 3. The service comes up later: the agent retries, then blesses and
    #    (refresh off) exits.  Event-driven: the marker is created once the
    #    agent has reported the failed check.
    p = subprocess.Popen([AGENT, "--esp", esp, "--delay", "0", "--retry", "1s", "--refresh", "off",
                          "--services", "CSFalconService", "--check-cmd", check_cmd],
                         stderr=subprocess.PIPE, text=True)
    seen = False
    for line in p.stderr:
        if "CSFalconService is not running" in line and not seen:
            seen = True
            open(os.path.join(flagdir, "CSFalconService"), "w").close()
    rc = p.wait(timeout=120)
    s = status(esp)
    check("linux: check fails, service starts, then bless", seen and rc == 0 and
          s.get("attempts") == 0, f"seen={seen} rc={rc} {s}")

    # 4. unloop's one-shot Safe Mode: cleared exactly once, then refreshes.
    esp = make_esp(tmp, "l-safemode", **SAFEMODE)
    calls = os.path.join(tmp, "safemode-calls")
    r = run([AGENT, "--esp", esp, "--delay", "0", "--refresh", "1s", "--refreshes", "3",
             "--safe-mode-cmd", f"echo cleared >> {calls}"])
    d = decode_state(state_path(esp))
    n_calls = len((read(calls) or b"").splitlines())
    check("linux: Safe Mode hook ran exactly once", r.returncode == 0 and n_calls == 1,
          f"rc={r.returncode} calls={n_calls} {r.stderr}")
    check("linux: flag cleared, fixed by safe-mode, bless + 3 refreshes (seq +4)",
          d and d["flags"] == 0 and d["fixed_by"] == 4 and d["seq"] == 15 and d["attempts"] == 0,
          str(d))
    # Never when unloop did not set it.
    esp = make_esp(tmp, "l-nosafemode", **FAILED)
    calls2 = os.path.join(tmp, "safemode-calls-2")
    r = run([AGENT, "--esp", esp, "--delay", "0", "--refresh", "1s", "--refreshes", "2",
             "--safe-mode-cmd", f"echo cleared >> {calls2}"])
    check("linux: Safe Mode hook never runs when unloop did not set it",
          r.returncode == 0 and read(calls2) is None and decode_state(state_path(esp))["seq"] == 10,
          r.stderr)

    # 5. Damaged, missing, unreadable state.
    esp = make_esp(tmp, "l-corrupt", **FAILED)
    open(state_path(esp), "wb").write(bytes((i * 37 + 11) & 255 for i in range(8192)))
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once"])
    s = status(esp)
    check("linux: corrupt state -> fresh valid record", r.returncode == 0 and
          s.get("state") in ("ok", "degraded") and s.get("attempts") == 0 and
          "corrupt" in r.stderr, f"{r.stderr} {s}")
    esp = make_esp(tmp, "l-torn", **FAILED)
    data = bytearray(read(state_path(esp)))
    data[4096:4096 + 40] = b"\x5a" * 40
    open(state_path(esp), "wb").write(bytes(data))
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once"])
    after = read(state_path(esp))
    check("linux: torn slot rewritten, the good slot untouched", r.returncode == 0 and
          after[:4096] == bytes(data[:4096]) and status(esp).get("state") == "ok", r.stderr)
    esp = make_esp(tmp, "l-missing", missing=True)
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once"])
    check("linux: missing state -> exit 1, nothing created", r.returncode == 1 and
          os.listdir(os.path.join(esp, "EFI", "unloop")) == [] and "is missing" in r.stderr,
          f"rc={r.returncode} {r.stderr}")
    esp = make_esp(tmp, "l-dir", missing=True)
    os.makedirs(state_path(esp))
    r = run([AGENT, "--esp", esp, "--delay", "0", "--once"])
    check("linux: state that is a directory -> clear error, exit 1", r.returncode == 1 and
          "cannot read" in r.stderr, r.stderr)

    # 6. Stopped by SIGTERM during the delay: exits 0, writes nothing.
    esp = make_esp(tmp, "l-term", **FAILED)
    before = read(state_path(esp))
    p = subprocess.Popen([AGENT, "--esp", esp, "--delay", "1h"], stderr=subprocess.PIPE, text=True)
    p.stderr.readline()     # "agent started": the handler is installed
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    check("linux: SIGTERM during the delay -> exit 0, nothing written",
          rc == 0 and read(state_path(esp)) == before, f"rc={rc}")

    # 7. Bad settings get clear errors.
    for args, want in ((["--delay", "soon"], "not a duration"),
                       (["--refresh", "100ms"], "shorter than one second"),
                       (["--services", "a,,b"], "empty service name"),
                       (["--delay"], "needs a value"),
                       (["--frobnicate"], "unknown option")):
        r = run([AGENT, "--esp", esp] + args)
        check(f"linux: {' '.join(args)} -> exit 2, '{want}'",
              r.returncode == 2 and want in r.stderr, r.stderr)


def wine_env():
    env = dict(os.environ, WINEPREFIX=PREFIX, WINEDEBUG="-all")
    env.pop("DISPLAY", None)
    return env


def winpath(p):
    return "Z:" + p.replace("/", "\\")


def wine(args, timeout=300):
    return run([WINE] + args, timeout=timeout, env=wine_env())


def wine_tests(tmp):
    print("== Windows build under Wine")
    if not (os.path.exists(WINE) and os.path.exists(AGENT_EXE)):
        check("wine: wine64 and unloop-agent.exe are there", False, f"{WINE} {AGENT_EXE}")
        return
    os.makedirs(PREFIX, exist_ok=True)
    exe = os.path.join(PREFIX, "drive_c", "unloop-agent.exe")
    # The first start makes the prefix (about 10 s).
    r = wine([AGENT_EXE, "--version"], timeout=600)
    check("wine: --version", r.returncode == 0 and "unloop-agent" in r.stdout, r.stderr[-500:])
    shutil.copy(AGENT_EXE, exe)
    start = int(time.time())

    # 1. The same failed-boot state, blessed through Z:\.
    esp = make_esp(tmp, "w-bless", **FAILED)
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once"])
    s = status(esp)
    d = decode_state(state_path(esp))
    check("wine: --console --once blesses", r.returncode == 0 and s.get("attempts") == 0 and
          s.get("fixed_by") == "quarantine-newest", f"rc={r.returncode} {r.stderr} {s}")
    check("wine: last_good is now (UTC), seq +1, other slot", d and d["last_good"] >= start and
          d["seq"] == 8 and d["slot"] == 1, str(d))
    log = (read(os.path.join(esp, "EFI", "unloop", "log")) or b"").decode(errors="replace")
    check("wine: the ESP log says who blessed", "boot blessed by the agent: 3 attempts reset"
          in log, log)

    # 2. Refreshes.
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--refresh", "1s",
              "--refreshes", "2"])
    d2 = decode_state(state_path(esp))
    check("wine: bless again + 2 refreshes (seq +3), fixed_by kept",
          r.returncode == 0 and d2 and d2["seq"] == d["seq"] + 3 and d2["fixed_by"] == 2 and
          d2["last_good"] >= d["last_good"], f"{r.stderr} {d2}")

    # 3. A service that does not exist fails the check (a running one is
    #    checked in part 8, against the agent's own service).
    esp = make_esp(tmp, "w-checks", **FAILED)
    before = read(state_path(esp))
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once",
              "--services", "NoSuchService"])
    check("wine: a missing service fails the check, nothing written",
          r.returncode == 3 and "NoSuchService is not installed" in r.stderr and
          read(state_path(esp)) == before, f"rc={r.returncode} {r.stderr}")

    # 4. Safe Mode: Wine has no bcdedit.exe, so the hook fails; the bless
    #    still happens and the flag stays for unloop.efi to clear.
    esp = make_esp(tmp, "w-safemode", **SAFEMODE)
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once"])
    d = decode_state(state_path(esp))
    check("wine: bcdedit missing -> blessed, flag kept, error says unloop.efi will clear it",
          r.returncode == 0 and d and d["attempts"] == 0 and d["flags"] == 1 and
          "unloop.efi will on the next boot" in r.stderr, f"{r.stderr} {d}")

    # 5. Damaged state and bad input.
    esp = make_esp(tmp, "w-corrupt", **FAILED)
    open(state_path(esp), "wb").write(b"\xff" * 5000)
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once"])
    check("wine: corrupt state -> fresh record", r.returncode == 0 and
          status(esp).get("attempts") == 0, r.stderr)
    esp = make_esp(tmp, "w-missing", missing=True)
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once"])
    check("wine: missing state -> exit 1, nothing created", r.returncode == 1 and
          os.listdir(os.path.join(esp, "EFI", "unloop")) == [], r.stderr)
    r = wine([AGENT_EXE, "--console", "--esp", "Z:\\no\\such\\dir", "--once"])
    check("wine: --esp that does not exist -> clear error", r.returncode == 1 and
          "cannot use" in r.stderr, r.stderr)
    r = wine([AGENT_EXE, "--esp", winpath(esp)])
    check("wine: no mode -> usage error", r.returncode == 2 and "--console" in r.stderr, r.stderr)

    # 6. Settings from the registry (HKLM\SOFTWARE\unloop\agent).
    key = r"HKLM\SOFTWARE\unloop\agent"
    esp = make_esp(tmp, "w-reg", **FAILED)
    wine(["reg", "add", key, "/v", "Services", "/d", "a,,b", "/f"])
    r = wine([AGENT_EXE, "--console", "--esp", winpath(esp), "--delay", "0", "--once"])
    check("wine: bad registry value -> exit 2 naming the value", r.returncode == 2 and
          "Services" in r.stderr and "empty service name" in r.stderr, r.stderr)
    wine(["reg", "add", key, "/v", "Services", "/d", "NoSuchService", "/f"])
    wine(["reg", "add", key, "/v", "Esp", "/d", winpath(esp), "/f"])
    r = wine([AGENT_EXE, "--console", "--delay", "0", "--once"])
    check("wine: registry Services and Esp are used", r.returncode == 3 and
          "NoSuchService" in r.stderr, r.stderr)
    r = wine([AGENT_EXE, "--console", "--delay", "0", "--once", "--services", ""])
    check("wine: the command line wins over the registry", r.returncode == 0 and
          status(esp).get("attempts") == 0, r.stderr)
    wine(["reg", "delete", key, "/f"])

    # 7. Finding the ESP by GPT type: Wine's volumes are not GPT partitions.
    r = wine([AGENT_EXE, "--console", "--delay", "0", "--once"])
    check("wine: no ESP among Wine's volumes -> clear error, exit 1", r.returncode == 1 and
          "no EFI system partition found" in r.stderr, r.stderr)

    # 8. The service: --install (CreateService, started by the SCM), the
    #    service blesses and (refresh off) stops; service checks against it;
    #    a stop request; --uninstall.  A console agent waiting on an empty directory keeps
    #    the Wine session (and so its service control manager) alive.
    keep_dir = os.path.join(tmp, "w-keeper")
    os.makedirs(keep_dir)
    keeper = subprocess.Popen([WINE, AGENT_EXE, "--console", "--esp", winpath(keep_dir),
                               "--delay", "1h"], env=wine_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        esp = make_esp(tmp, "w-service", **FAILED)
        # A trailing backslash: the service's command line must keep it
        # from escaping the closing quote.
        r = wine(["C:\\unloop-agent.exe", "--install", "--esp", winpath(esp) + "\\", "--delay",
                  "0", "--refresh", "off"])
        check("wine: --install creates and starts the service", r.returncode == 0 and
              "installed" in r.stdout, r.stdout + r.stderr)
        q = wine(["reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Services\unloop-agent",
                  "/v", "ImagePath"])
        check("wine: ImagePath runs --service with the settings", "--service" in q.stdout and
              "--refresh" in q.stdout, q.stdout)
        q = wine(["reg", "query",
                  r"HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Minimal\unloop-agent"])
        check("wine: registered to start in Safe Mode (SafeBoot\\Minimal)", q.returncode == 0 and
              "Service" in q.stdout, q.stdout + q.stderr)
        deadline = time.time() + 120
        while time.time() < deadline and status(esp).get("attempts") != 0:
            time.sleep(0.5)
        check("wine: the service blessed the boot", status(esp).get("attempts") == 0,
              str(status(esp)))
        r = wine(["C:\\unloop-agent.exe", "--uninstall"])
        check("wine: --uninstall", r.returncode == 0 and "removed" in r.stdout, r.stdout + r.stderr)

        # The service again, waiting out a long delay: it is RUNNING, so a
        # check on it passes (SCM QueryServiceStatus); then
        # SERVICE_CONTROL_STOP stops it with nothing written.
        esp = make_esp(tmp, "w-stop", **FAILED)
        before = read(state_path(esp))
        r = wine(["C:\\unloop-agent.exe", "--install", "--esp", winpath(esp), "--delay", "1h"])
        q = wine(["sc", "query", "unloop-agent"])
        check("wine: the installed service is RUNNING", r.returncode == 0 and "RUNNING" in q.stdout,
              r.stderr + q.stdout)
        esp2 = make_esp(tmp, "w-check-running", **FAILED)
        before2 = read(state_path(esp2))
        r = wine([AGENT_EXE, "--console", "--esp", winpath(esp2), "--delay", "0", "--once",
                  "--services", "unloop-agent,NoSuchService"])
        check("wine: one running and one missing service -> exit 3, nothing written",
              r.returncode == 3 and "NoSuchService is not installed" in r.stderr and
              "service unloop-agent is not" not in r.stderr and
              read(state_path(esp2)) == before2,
              f"rc={r.returncode} {r.stderr}")
        r = wine([AGENT_EXE, "--console", "--esp", winpath(esp2), "--delay", "0", "--once",
                  "--services", "unloop-agent"])
        check("wine: a running service passes the check, blessed",
              r.returncode == 0 and status(esp2).get("attempts") == 0,
              f"rc={r.returncode} {r.stderr}")
        r = wine(["cmd", "/c", "sc stop unloop-agent & sc query unloop-agent"])
        check("wine: SERVICE_CONTROL_STOP -> STOPPED, nothing written",
              "STOPPED" in r.stdout and read(state_path(esp)) == before, r.stdout + r.stderr)
        r = wine(["C:\\unloop-agent.exe", "--uninstall"])
        q = wine(["reg", "query",
                  r"HKLM\SYSTEM\CurrentControlSet\Control\SafeBoot\Minimal\unloop-agent"])
        check("wine: --uninstall removes the service and its Safe Mode keys",
              r.returncode == 0 and q.returncode != 0, r.stdout + r.stderr + q.stdout)
    finally:
        wine(["C:\\unloop-agent.exe", "--uninstall"])
        keeper.terminate()
        try:
            keeper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            keeper.kill()
        # Our prefix's wineserver (started by this test) goes too.
        if os.path.exists(WINESERVER):
            subprocess.run([WINESERVER, "-k"], env=wine_env(), capture_output=True)


def main():
    for p in (AGENT, CLI):
        if not os.path.exists(p):
            print(f"missing {p}: run make agent first")
            print("agent: 0 passed, 1 failed")
            return 1
    tmp = tempfile.mkdtemp(prefix="unloop-agent-")
    try:
        linux_tests(tmp)
        if "--no-wine" not in sys.argv:
            wine_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"agent: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
