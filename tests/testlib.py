# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Python suites share: one 'ok   - name' or 'FAIL - name' line per
check, and the closing 'PREFIX: N passed, N failed' line that
tests/run-check.sh reads.  Import with tests/ on sys.path."""
import threading

_lock = threading.Lock()  # some suites check from worker threads
_count = {"passed": 0, "failed": 0}


def ok(name, cond, detail="", limit=1500):
    """Count one check; print the detail (cut to limit characters) on failure."""
    with _lock:
        if cond:
            _count["passed"] += 1
            print("ok   - " + name, flush=True)
        else:
            _count["failed"] += 1
            print("FAIL - " + name + (("\n       " + str(detail)[:limit]) if detail else ""),
                  flush=True)
    return bool(cond)


def failures():
    return _count["failed"]


def summary(prefix):
    """Print the closing line; the exit status: 1 if anything failed."""
    print("%s: %d passed, %d failed" % (prefix, _count["passed"], _count["failed"]), flush=True)
    return 1 if _count["failed"] else 0
