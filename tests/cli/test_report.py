#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""unloop report summarize DIR [--csv] [--json] (issue #6) as a technician or
a fleet script runs it: the hand-written reports in tests/cli/reports/ (one
per outcome, per docs/report-format.md), the table, CSV (read back with
Python's csv module) and JSON; then reports that must be refused, each
with its reason, and never a crash or a hang.  Ends with
"report: N passed, N failed"; exit 1 on any failure."""
import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import ok, summary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
U = os.path.join(ROOT, "build", "unloop")
REPORTS = os.path.join(ROOT, "tests", "cli", "reports")


def check(name, cond, detail=""):
    return ok(name, cond, "\n       ".join(str(detail).splitlines()[:12]))


def run(*args, timeout=30):
    p = subprocess.run([U, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def width(s):
    """Terminal columns, as a UTF-8 terminal shows them."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return w


def table_rows(out):
    """The rows of the table: header, rows, blank line, totals."""
    lines = out.split("\n")
    head = lines[0]
    end = lines.index("")
    rows = [re.split(r"  +", l) for l in lines[1:end]]
    totals = {}
    for l in lines[end + 1:]:
        m = re.match(r"^(.*?) +(\d+)$", l)
        if m:
            totals[m.group(1)] = int(m.group(2))
    return head, lines[1:end], rows, totals


def report(**kw):
    """A minimal valid report, keys overridden by kw (None removes one)."""
    r = {
        "unloop_report": 1,
        "unloop_version": "0.1.0",
        "mode": "usb",
        "machine": {"id": kw.pop("id", "serial-T1"), "serial": "T1", "product": "Test"},
        "time": "2024-07-19T12:00:00",
        "time_utc_offset_min": None,
        "installations": [],
        "actions": [],
        "outcome": "no-windows",
        "summary": "no Windows installation found",
        "errors": [],
    }
    for k, v in kw.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def folder(files):
    """A fresh folder holding files: {name: bytes | str | dict}."""
    d = tempfile.mkdtemp(prefix="unloop-report-")
    for name, data in files.items():
        if isinstance(data, dict):
            data = json.dumps(data, ensure_ascii=False)
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return d


def summarize_json(d):
    rc, out, err = run("--json", "report", "summarize", d)
    return rc, json.loads(out) if out else None, err


# ---------------------------------------------------------------- the examples
EXPECT = [  # machine, outcome_text, done, reason: in the order the table sorts
    ("4c4c4544-0042-3510-8052-b4c04f4e4a31", "fixed", "quarantined 1 file", "-"),
    ("serial-MJ0ABC12", "fixed", "quarantined 2 files", "-"),
    ("9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff", "Safe Mode set", "Safe Mode set",
     "disk 1 partition 4: BitLocker locked: no key for recovery-password protector 1E2D3C4B; "
     "quarantine skipped: BitLocker locked"),
    ("5a1b2c3d-1111-2222-3333-444455556666", "needs a key", "-",
     "BitLocker locked: no key for recovery-password protector 64311DEA"),
    ("0e0e0e0e-1234-5678-9abc-def012345678", "nothing to do", "-",
     "quarantine: no recently changed third-party driver files"),
    ("unknown-5f3a2b1c", "no Windows", "-", "no Windows installation found"),
    ("serial-QEMU0001", "failed", "-", "script error: line 4: unknown action 'quarantien'"),
    ("4c4c4544-0000-0000-0000-00000000dead", "unreadable", "-",
     "4c4c4544-0000-0000-0000-00000000dead.json: not valid JSON: line 5, column 14: "
     "string not closed"),
    ("serial-OLDSTICK", "unreadable", "-",
     "serial-OLDSTICK.json: report format 2; this unloop reads format 1"),
]
TOTALS = {"fixed": 2, "Safe Mode set": 1, "needs a key": 1, "nothing to do": 1,
          "no Windows": 1, "failed": 1, "unreadable": 2, "total": 9}
PRODUCTS = {
    "4c4c4544-0042-3510-8052-b4c04f4e4a31": "Latitude 7420",
    "serial-MJ0ABC12": 'Surface Pro 7+, "Business" edition',
    "5a1b2c3d-1111-2222-3333-444455556666": "ThinkPad T14 Gen 2 \u2013 B\u00fcro Z\u00fcrich",
    "0e0e0e0e-1234-5678-9abc-def012345678": "\u83ef\u78a9 VivoBook 15",
}


def test_examples():
    rc, out, err = run("report", "summarize", REPORTS)
    check("examples: exit 1 (two reports unreadable)", rc == 1, err)
    head, lines, rows, totals = table_rows(out)
    check("table header", re.split(r"  +", head) ==
          ["MACHINE", "SERIAL", "PRODUCT", "TIME", "OUTCOME", "DONE", "REASON"], head)
    check("one row per .json file (dot files and notes.txt skipped)", len(rows) == 9, out)
    got = [(r[0], r[4], r[5], r[6]) for r in rows if len(r) == 7]
    check("rows sorted by outcome, then machine id", [g[0] for g in got] == [e[0] for e in EXPECT],
          "\n".join(g[0] for g in got))
    for g, e in zip(got, EXPECT):
        check(f"row {e[0]}: {e[1]} / {e[2]} / reason", g == e, f"got  {g}\nwant {e}")
    check("totals per outcome", totals == TOTALS, totals)
    by = {r[0]: r for r in rows}
    for m, p in PRODUCTS.items():
        check(f"product of {m} in the table", by.get(m, [None] * 3)[2] == p, by.get(m))
    check("serial and time columns",
          by["4c4c4544-0042-3510-8052-b4c04f4e4a31"][1:4:2] == ["5R9JN1", "2024-07-19T08:12:33"] and
          by["serial-MJ0ABC12"][3] == "2024-07-19T09:01:10+02:00" and
          by["0e0e0e0e-1234-5678-9abc-def012345678"][3] == "2024-07-19T10:02:00-05:00")
    # Columns line up on a terminal even with wide (CJK) and accented names.
    starts = set()
    for l in [head] + lines:
        i = l.index("2024-07-19T") if "2024-07-19T" in l else l.index("TIME") if "TIME" in l else None
        if i is not None:
            starts.add(width(l[:i]))
    check("columns aligned by display width (CJK, accents)", len(starts) == 1, starts)

    rc, out, err = run("report", "summarize", "--csv", REPORTS)
    check("--csv: exit 1 too", rc == 1, err)
    check("--csv: RFC 4180 CRLF records", out.startswith("machine,serial,") and "\r\n" in out and
          out.endswith("\r\n"))
    recs = list(csv.reader(io.StringIO(out, newline="")))
    check("--csv: header", recs[0] == ["machine", "serial", "manufacturer", "product", "time",
                                        "outcome", "outcome_text", "done", "reason", "summary",
                                        "file"], recs[0])
    check("--csv: 9 records, no totals", len(recs) == 10, len(recs))
    crows = [dict(zip(recs[0], r)) for r in recs[1:]]
    check("--csv: every record has 11 fields", all(len(r) == 11 for r in recs))
    check("--csv: same order as the table", [r["machine"] for r in crows] == [e[0] for e in EXPECT])
    cby = {r["machine"]: r for r in crows}
    for m, p in PRODUCTS.items():
        check(f"--csv: product of {m} read back exactly", cby[m]["product"] == p, cby[m]["product"])
    check("--csv: a field with a comma and quotes is quoted",
          '"Surface Pro 7+, ""Business"" edition"' in out)
    check("--csv: outcome tokens", [r["outcome"] for r in crows] ==
          ["fixed", "fixed", "safe-mode", "needs-key", "nothing-to-do", "no-windows", "failed",
           "unreadable", "unreadable"])
    check("--csv: empty cells for what a report lacks",
          cby["unknown-5f3a2b1c"]["serial"] == "" and cby["unknown-5f3a2b1c"]["done"] == "")
    check("--csv: needs-key reason", cby["5a1b2c3d-1111-2222-3333-444455556666"]["reason"] ==
          "BitLocker locked: no key for recovery-password protector 64311DEA")
    check("--csv: unreadable row names its file",
          cby["serial-OLDSTICK"]["file"] == "serial-OLDSTICK.json" and
          cby["serial-OLDSTICK"]["reason"].startswith("serial-OLDSTICK.json: "))

    rc, d, err = summarize_json(REPORTS)
    check("--json: exit 1 too", rc == 1, err)
    check("--json: rows and totals", set(d) == {"rows", "totals"} and len(d["rows"]) == 9, d.keys())
    check("--json: totals by outcome token", d["totals"] ==
          {"fixed": 2, "safe-mode": 1, "needs-key": 1, "nothing-to-do": 1, "no-windows": 1,
           "failed": 1, "unreadable": 2, "total": 9}, d["totals"])
    jby = {r["machine"]: r for r in d["rows"]}
    for m, p in PRODUCTS.items():
        check(f"--json: product of {m}", jby[m]["product"] == p, jby[m]["product"])
    check("--json: absent keys are null", jby["unknown-5f3a2b1c"]["serial"] is None and
          jby["serial-OLDSTICK"]["time"] is None)
    check("--json: failed row", jby["serial-QEMU0001"]["outcome"] == "failed" and
          jby["serial-QEMU0001"]["reason"] == "script error: line 4: unknown action 'quarantien'"
          and jby["serial-QEMU0001"]["manufacturer"] == "QEMU")
    same = all(
        {k: ("" if v is None else v) for k, v in j.items()} == c
        for j, c in zip(d["rows"], crows))
    check("--json and --csv say the same", same)
    check("--json output is ASCII (\\u escapes)", out_is_ascii(REPORTS))


def out_is_ascii(d):
    p = subprocess.run([U, "--json", "report", "summarize", d], capture_output=True)
    return all(b < 0x80 for b in p.stdout)


def test_exit_and_usage():
    good = folder({})
    for name in os.listdir(REPORTS):
        if name.endswith(".json") and "dead" not in name and "OLDSTICK" not in name:
            shutil.copy(os.path.join(REPORTS, name), good)
    rc, out, err = run("report", "summarize", good)
    check("every report readable: exit 0", rc == 0, err)
    check("  7 rows, no unreadable", table_rows(out)[3].get("total") == 7 and
          table_rows(out)[3].get("unreadable") == 0, out)

    empty = folder({"README.txt": "no reports here"})
    rc, out, err = run("report", "summarize", empty)
    check("empty folder: exit 0", rc == 0, err)
    check("empty folder: says so, totals 0", out.startswith("No reports (*.json) in ") and
          re.search(r"^total +0$", out, re.M) and "MACHINE" not in out, out)
    rc, out, err = run("report", "summarize", "--csv", empty)
    check("empty folder --csv: the header only", rc == 0 and out ==
          "machine,serial,manufacturer,product,time,outcome,outcome_text,done,reason,summary,file\r\n",
          out)
    rc, d, err = summarize_json(empty)
    check("empty folder --json: no rows, totals 0",
          rc == 0 and d["rows"] == [] and d["totals"]["total"] == 0, d)

    rc, out, err = run("report", "summarize", os.path.join(empty, "nope"))
    check("missing folder: exit 1 with a message", rc == 1 and "cannot read the folder" in err, err)
    rc, out, err = run("report", "summarize", os.path.join(REPORTS, "notes.txt"))
    check("a file instead of a folder: exit 1", rc == 1 and "Not a directory" in err, err)
    for args in (["report"], ["report", "summarize"], ["report", "list", empty],
                 ["report", "summarize", empty, empty],
                 ["report", "summarize", "--csv", "--json", empty]):
        rc, out, err = run(*args)
        check(f"usage error: {' '.join(args[:3])}...: exit 2", rc == 2, err)
    rc, out, err = run("--help")
    check("--help lists report summarize and --csv",
          "report summarize DIR [--csv]" in out and "--csv" in out)
    for p in (empty, good):
        shutil.rmtree(p)


# ------------------------------------------------------ reports to refuse
BAD = [  # name, bytes, part of the reason
    ("trailing-comma", b'{"unloop_report":1,}', "expected a key (a string) in an object, found '}'"),
    ("leading-zero", b'{"unloop_report":01}', "leading zero"),
    ("nan", b'{"unloop_report":NaN}', "expected a value, found 'N'"),
    ("comment", b'// report\n{"unloop_report":1}', "line 1, column 1: expected a value, found '/'"),
    ("single-quotes", b"{'unloop_report':1}", "expected a key (a string) in an object"),
    ("lone-high-surrogate", b'{"a":"\\ud800"}', "high surrogate without a low one"),
    ("lone-low-surrogate", b'{"a":"\\udc00x"}', "low surrogate without a high one"),
    ("bad-escape", b'{"a":"\\x41"}', "invalid escape"),
    ("short-u-escape", b'{"a":"\\u12"}', "\\u needs four hex digits"),
    ("invalid-utf8", b'{"a":"\xff"}', "invalid UTF-8 in a string"),
    ("overlong-utf8", b'{"a":"\xc0\xaf"}', "invalid UTF-8 in a string"),
    ("utf8-surrogate", b'{"a":"\xed\xa0\x80"}', "invalid UTF-8 in a string"),
    ("truncated-utf8", b'{"a":"\xe8\x8f"}', "invalid UTF-8 in a string"),
    ("raw-control", b'{"a":"line\nbreak"}', "control character 0x0a in a string"),
    ("bom", b'\xef\xbb\xbf{"unloop_report":1}', "byte order mark"),
    ("nul-escape", b'{"a":"x\\u0000y"}', "\\u0000 in a string is not accepted"),
    ("duplicate-key", b'{"unloop_report":1,"outcome":"fixed","outcome":"failed"}',
     "line 1, column 38: key \"outcome\" appears a second time"),
    ("trailing-data", b'{"unloop_report":1} {}', "unexpected '{' after the JSON value"),
    ("empty", b"", "no JSON value"),
    ("only-space", b" \n\t ", "no JSON value"),
    ("huge-number", b'{"unloop_report":1e999}', "number out of range"),
    ("bare-minus", b'{"unloop_report":-}', "a number needs a digit here"),
    ("dot-no-digit", b'{"unloop_report":1.}', "a number needs a digit after '.'"),
    ("exp-no-digit", b'{"unloop_report":1e}', "a number needs a digit in its exponent"),
    ("tru", b'{"a":tru}', "not true, false or null"),
    ("unclosed-object", b'{"unloop_report":1', "expected ',' or '}' after an object member, "
     "found the end of the file"),
    ("unclosed-array", b'[1,2', "expected ',' or ']' after an array element"),
    ("missing-colon", b'{"unloop_report" 1}', "expected ':' after a key, found '1'"),
    ("nested-65", b"[" * 65 + b"]" * 65, "nested deeper than 64 levels"),
    ("nested-100000", b"[" * 100000, "nested deeper than 64 levels"),
    ("nested-objects", b'{"a":' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
    # valid JSON, not a format-1 report
    ("top-array", b"[]", "not an unloop report: the top level is an array, not an object"),
    ("no-format", b'{"outcome":"fixed"}', 'no "unloop_report" key'),
    ("format-string", b'{"unloop_report":"1"}', '"unloop_report" is a string, not a number'),
    ("format-1.5", b'{"unloop_report":1.5}', "report format 1.5; this unloop reads format 1"),
    ("format-0", b'{"unloop_report":0}', "report format 0;"),
    ("no-machine", json.dumps(report(machine=None)).encode(), 'no "machine.id"'),
    ("empty-id", json.dumps(report(id="")).encode(), 'no "machine.id"'),
    ("machine-string", json.dumps(report(machine="pc")).encode(),
     '"machine" is a string, not an object'),
    ("serial-number", json.dumps(report(machine={"id": "x", "serial": 42})).encode(),
     '"machine.serial" is a number, not a string'),
    ("no-outcome", json.dumps(report(outcome=None)).encode(), 'no "outcome"'),
    ("unknown-outcome", json.dumps(report(outcome="exploded")).encode(),
     'unknown outcome "exploded"'),
    ("outcome-null", json.dumps(report(outcome=None) | {"outcome": None}).encode(),
     '"outcome" is null, not a string'),
    ("installations-object", json.dumps(report(installations={})).encode(),
     '"installations" is an object, not an array'),
    ("installation-number", json.dumps(report(installations=[1])).encode(),
     '"installations[]" holds a number, not an object'),
    ("selected-string", json.dumps(report(installations=[{"selected": "yes"}])).encode(),
     '"installations[].selected" is a string, not a boolean'),
    ("protector-string", json.dumps(report(installations=[
        {"bitlocker": "locked", "selected": True, "protectors": ["64311dea"]}])).encode(),
     '"installations[].protectors[]" holds a string, not an object'),
    ("action-array", json.dumps(report(actions=[[]])).encode(),
     '"actions[]" holds an array, not an object'),
    ("action-no-result", json.dumps(report(actions=[{"action": "quarantine"}])).encode(),
     'an action without "result"'),
    ("files-object", json.dumps(report(actions=[
        {"action": "quarantine", "result": "done", "files": {}}])).encode(),
     '"actions[].files" is an object, not an array'),
    ("error-number", json.dumps(report(errors=[404])).encode(),
     '"errors[]" holds a number, not a string'),
    ("tz-range", json.dumps(report(time_utc_offset_min=5000)).encode(),
     '"time_utc_offset_min" is not null or a number of minutes'),
    ("tz-string", json.dumps(report(time_utc_offset_min="+02:00")).encode(),
     '"time_utc_offset_min" is not null or a number of minutes'),
]


def test_refused():
    for name, data, why in BAD:
        d = folder({f"{name}.json": data})
        try:
            rc, out, err = run("--json", "report", "summarize", d)
        except subprocess.TimeoutExpired:
            check(f"refused: {name}", False, "timed out")
            shutil.rmtree(d)
            continue
        try:
            row = json.loads(out)["rows"][0]
        except (ValueError, IndexError, KeyError) as e:
            check(f"refused: {name}", False, f"{e}: rc {rc}, {out[:200]} {err[:200]}")
            shutil.rmtree(d)
            continue
        check(f"refused: {name}: exit 1, unreadable, \"{why[:50]}\"",
              rc == 1 and row["outcome"] == "unreadable" and row["machine"] == name and
              row["reason"].startswith(f"{name}.json: ") and why in row["reason"],
              f"rc {rc}: {row['reason']}")
        # Python's json module agrees that the invalid ones are invalid.
        if "not valid JSON" in row["reason"] and name not in (
                "nan", "duplicate-key", "lone-high-surrogate", "lone-low-surrogate",
                "nul-escape", "nested-65", "nested-objects", "huge-number"):
            try:
                json.loads(data.decode("utf-8"))
                check(f"  Python's json refuses {name} too", False)
            except (ValueError, UnicodeDecodeError, RecursionError):
                pass
        shutil.rmtree(d)


def test_accepted_edges():
    """Valid JSON at the edges the reader must still accept."""
    deep = report()
    inner = "x"
    for _ in range(63):             # the report object is level 1: 64 in all
        inner = [inner]
    deep["future"] = inner
    cases = {
        "depth-64": json.dumps(deep),
        "numbers": json.dumps(report()).replace(
            '"unloop_report": 1', '"unloop_report": 1.0e0, "n": [-0, 0.5E-3, 1E+2, '
            '-9223372036854775808, 18446744073709551616, 1e308]'),
        "escapes": json.dumps(report(machine={
            "id": "escapes", "product": "Caf\u00e9 \U0001F600 \"q\" \\ / \u00e9"}),
            ensure_ascii=True).replace("\\/", "/").replace(" / ", " \\/ "),
        "whitespace": " \t\r\n" + json.dumps(report(), indent="\t").replace("\n", "\r\n") + "\n\n",
        "unknown-keys": json.dumps(report() | {"new_key": {"a": [None, True, False, {}]}}),
        "upper-case.JSON": json.dumps(report()),
    }
    d = folder({(k if k.endswith(".JSON") else k + ".json"): v for k, v in cases.items()})
    rc, out, err = summarize_json(d)
    rows = {r["file"]: r for r in out["rows"]} if out else {}
    check("edge cases accepted: exit 0", rc == 0,
          "\n".join(r["reason"] for r in rows.values() if r["outcome"] == "unreadable"))
    for k in cases:
        f = k if k.endswith(".JSON") else k + ".json"
        check(f"accepted: {k}", rows.get(f, {}).get("outcome") == "no-windows", rows.get(f))
    check("accepted: \\u escapes and a surrogate pair decode",
          rows["escapes.json"]["product"] == "Caf\u00e9 \U0001F600 \"q\" \\ / \u00e9",
          rows["escapes.json"]["product"])
    shutil.rmtree(d)

    # The size cap: 1 MiB is read, one byte more is not.
    body = json.dumps(report(id="big"))
    exact = body + " " * ((1 << 20) - len(body))
    d = folder({"exact.json": exact, "over.json": exact + " "})
    rc, out, err = summarize_json(d)
    rows = {r["file"]: r for r in out["rows"]}
    check("a 1 MiB report is read", rows["exact.json"]["outcome"] == "no-windows", rows["exact.json"])
    check("a report over 1 MiB is refused, unparsed",
          rows["over.json"]["outcome"] == "unreadable" and
          rows["over.json"]["reason"] == "over.json: larger than 1024 KiB", rows["over.json"])
    shutil.rmtree(d)


def test_files_in_folder():
    d = folder({"a.json": report(id="a"), ".hidden.json": "junk", "._a.json": b"\x00\x05\x16\x07",
                "b.txt": "junk", "json": "junk"})
    os.mkdir(os.path.join(d, "sub.json"))
    os.mkfifo(os.path.join(d, "pipe.json"))
    os.symlink("a.json", os.path.join(d, "link.json"))
    os.symlink("missing", os.path.join(d, "dangling.json"))
    try:
        rc, out, err = summarize_json(d)
    except subprocess.TimeoutExpired:
        check("a FIFO named *.json does not hang the command", False)
        return
    rows = {r["file"]: r for r in out["rows"]}
    check("dot files and other names are skipped",
          sorted(rows) == ["a.json", "dangling.json", "link.json", "pipe.json", "sub.json"],
          sorted(rows))
    check("a FIFO is refused without waiting", rows["pipe.json"]["reason"] ==
          "pipe.json: not a regular file")
    check("a directory named *.json is refused", rows["sub.json"]["reason"] ==
          "sub.json: not a regular file")
    check("a symbolic link to a report is read", rows["link.json"]["outcome"] == "no-windows")
    check("a dangling link says why", rows["dangling.json"]["reason"] ==
          "dangling.json: cannot open: No such file or directory", rows["dangling.json"])
    check("exit 1", rc == 1)
    shutil.rmtree(d)


# ---------------------------------------------------- reasons and outputs
def test_reasons():
    inst = {"index": 1, "disk": "disk 1", "windows_partition": 3, "bitlocker": "locked",
            "selected": True}
    cases = [
        ("two-recovery-protectors", report(outcome="needs-key", installations=[inst | {
            "protectors": [{"id": "64311dea-4587-4029-924a-ba299647998e", "type": "recovery-password"},
                           {"id": "aa11bb22-0000-4000-8000-000000000000", "type": "recovery-password"},
                           {"id": "7a0b8c2e-0000-4000-8000-000000000001", "type": "tpm"}]}]),
         "", "BitLocker locked: no key for recovery-password protectors 64311DEA, AA11BB22"),
        ("tpm-only", report(outcome="needs-key", installations=[inst | {
            "protectors": [{"id": "7a0b8c2e-0000-4000-8000-000000000001", "type": "tpm"},
                           {"id": "8b0b8c2e-0000-4000-8000-000000000001", "type": "tpm-pin"}]}]),
         "", "BitLocker locked: no key (protectors: tpm, tpm-pin)"),
        ("locked-unselected", report(outcome="needs-key", installations=[
            inst | {"selected": False, "protectors": []},
            inst | {"disk": "disk 2", "windows_partition": 2, "selected": False}]),
         "", "disk 1 partition 3: BitLocker locked: no key; disk 2 partition 2: BitLocker locked: no key"),
        ("locked-no-disk-names", report(outcome="needs-key", installations=[
            {"index": 7, "bitlocker": "locked", "selected": True},
            {"bitlocker": "locked", "selected": True}]),
         "", "installation 7: BitLocker locked: no key; installation 2: BitLocker locked: no key"),
        ("key-file-malformed", report(outcome="failed", errors=[
            "key file \\keys\\bitlocker.csv: line 3: not a recovery password",
            "key file \\keys\\bitlocker.csv: line 3: not a recovery password"]),
         "", "key file \\keys\\bitlocker.csv: line 3: not a recovery password"),
        ("action-failed", report(outcome="failed", actions=[
            {"action": "quarantine", "installation": 1, "result": "failed",
             "reason": "cannot write \\unloop.quarantine: disk full"}]),
         "", "quarantine failed: cannot write \\unloop.quarantine: disk full"),
        ("restore", report(outcome="fixed", actions=[
            {"action": "restore", "installation": 1, "result": "done",
             "files": [{"from": "a", "to": "b", "size": 1}] * 3},
            {"action": "safe-mode-network", "installation": 1, "result": "done"}]),
         "restored 3 files; Safe Mode with networking set", ""),
        ("no-match", report(outcome="no-windows", summary=None, installations=[
            {"index": 1, "disk": "disk 1", "bitlocker": "none", "selected": False}]),
         "", "no installation matched the selector"),
        ("summary-fallback", report(outcome="nothing-to-do", summary="nothing to do on disk 1"),
         "", "nothing to do on disk 1"),
    ]
    d = folder({f"{n}.json": r for n, r, _, _ in cases})
    rc, out, err = summarize_json(d)
    check("reason cases: exit 0", rc == 0, err)
    for n, _, done, why in cases:
        r = next((x for x in out["rows"] if x["file"] == f"{n}.json"), None)
        check(f"reason: {n}", r and r["done"] == done and r["reason"] == why,
              f"got  {r and (r['done'], r['reason'])}\nwant {(done, why)}")
    shutil.rmtree(d)

    # Big reports stay fast and their reasons short: at most 16 parts.
    import time
    big_err = report(outcome="failed", errors=[f"error {i}" for i in range(60000)])
    big_act = report(outcome="fixed", actions=[
        {"action": "quarantine", "result": "done", "files": [{}] * (i % 3)} for i in range(15000)])
    big_prot = report(outcome="needs-key", installations=[
        {"bitlocker": "locked", "selected": True, "protectors": [
            {"id": f"{i:08x}-0000", "type": "recovery-password"} for i in range(15000)]}])
    d = folder({"big-errors.json": big_err, "big-actions.json": big_act,
                "big-protectors.json": big_prot})
    t0 = time.monotonic()
    rc, out, err = summarize_json(d)
    dt = time.monotonic() - t0
    rows = {r["file"]: r for r in out["rows"]}
    check(f"three ~1 MiB reports in {dt:.2f} s (< 5 s)", rc == 0 and dt < 5, err)
    check("60,000 errors: 16 in the reason, then how many more",
          rows["big-errors.json"]["reason"] ==
          "; ".join(f"error {i}" for i in range(16)) + "; and 59984 more",
          rows["big-errors.json"]["reason"][-80:])
    check("15,000 actions: done lists each kind once",
          rows["big-actions.json"]["done"] ==
          "quarantined 0 files; quarantined 1 file; quarantined 2 files",
          rows["big-actions.json"]["done"][:200])
    check("15,000 protectors: the first 8 key IDs",
          rows["big-protectors.json"]["reason"] ==
          "BitLocker locked: no key for recovery-password protectors "
          + ", ".join(f"{i:08X}" for i in range(8)), rows["big-protectors.json"]["reason"])
    shutil.rmtree(d)

    # Ties in outcome sort by machine id, then by file name.
    d = folder({"z.json": report(id="b"), "y.json": report(id="a"), "x.json": report(id="b")})
    rc, out, err = summarize_json(d)
    check("same outcome: sorted by machine id, then file",
          [(r["machine"], r["file"]) for r in out["rows"]] ==
          [("a", "y.json"), ("b", "x.json"), ("b", "z.json")], out["rows"])
    shutil.rmtree(d)


def test_untrusted_text():
    """Names from SMBIOS are set by whoever had the machine: the table must not
    pass escapes or bidi overrides to the terminal; CSV and JSON keep the text."""
    evil = "Pro\u001b[2J\u001b]0;pwned\u0007 \u202eexe.txt\u202c\ttab\nnew"
    d = folder({"evil.json": report(machine={"id": "evil", "product": evil, "serial": "a,b"})})
    p = subprocess.run([U, "report", "summarize", d], capture_output=True)
    t = p.stdout.decode()
    check("table: no escape, BEL or bidi override",
          not any(c in t for c in "\u001b\u0007\u202e\u202c") and
          "Pro?[2J?]0;pwned? ?exe.txt? tab new" in t, t)
    rc, out, err = run("report", "summarize", "--csv", d)
    rec = list(csv.reader(io.StringIO(out, newline="")))[1]
    check("csv: controls become U+FFFD, tab and newline kept (quoted)",
          rec[3] == evil.replace("\u001b", "\ufffd").replace("\u0007", "\ufffd") and
          rec[1] == "a,b", repr(rec[3]))
    rc, js, err = summarize_json(d)
    check("json: the product exactly", js["rows"][0]["product"] == evil)
    shutil.rmtree(d)

    # Random names (all planes, quotes, commas, newlines) survive CSV and JSON.
    rnd = random.Random(6)
    alphabet = ['"', ",", "\n", "\r\n", " ", "a", "Z", "\u00e9", "\u00df", "\u2013", "\u83ef",
                "\U0001F600", "\U00010348", "\\", "/", "'", "=", ";", "\u0301"]
    names = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 30))) for _ in range(40)]
    d = folder({f"r{i:02}.json": report(id=f"r{i:02}", machine={"id": f"r{i:02}", "product": n})
                for i, n in enumerate(names)})
    rc, out, err = run("report", "summarize", "--csv", d)
    recs = list(csv.reader(io.StringIO(out, newline="")))[1:]
    check("csv: 40 random product names read back exactly",
          [r[3] for r in recs] == names, [(r[3], n) for r, n in zip(recs, names) if r[3] != n][:3])
    rc, js, err = summarize_json(d)
    check("json: 40 random product names exactly",
          [r["product"] for r in js["rows"]] == names)
    rc, out, err = run("report", "summarize", d)
    check("table: still one line per report with newlines in names",
          len(table_rows(out)[1]) == 40, out[:300])
    shutil.rmtree(d)

    # Invalid UTF-8 in a file name (FAT sticks written elsewhere).
    d = tempfile.mkdtemp(prefix="unloop-report-")
    with open(os.path.join(d.encode(), b"caf\xe9.json"), "w") as f:
        f.write(json.dumps(report(id="cafe")))
    p = subprocess.run([U, "--json", "report", "summarize", d], capture_output=True)
    check("json: a file name that is not UTF-8 becomes U+FFFD",
          p.returncode == 0 and json.loads(p.stdout)["rows"][0]["file"] == "caf\ufffd.json")
    p = subprocess.run([U, "report", "summarize", "--csv", d], capture_output=True)
    check("csv: the output stays valid UTF-8", p.stdout.decode("utf-8", "strict").count("caf\ufffd.json") == 1)
    shutil.rmtree(d)


def main():
    if not os.access(U, os.X_OK):
        print(f"FAIL - {U} is not built (make build/unloop)")
        print("report: 0 passed, 1 failed")
        return 1
    for t in (test_examples, test_exit_and_usage, test_refused, test_accepted_edges,
              test_files_in_folder, test_reasons, test_untrusted_text):
        try:
            t()
        except Exception as e:  # a crash of the test is a failure, not the end
            import traceback
            traceback.print_exc()
            check(f"{t.__name__} ran to the end", False, repr(e))
    return summary("report")


if __name__ == "__main__":
    sys.exit(main())
