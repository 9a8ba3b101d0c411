#!/usr/bin/env python3
"""Counts every test case of every kind from meson's testlog.json files (and
plain TAP files, *.tap) and prints
   N passed, N failed, N skipped
TAP tests count one per TAP line; a TAP test whose process failed without
reporting a failing line (crash, timeout, missing plan) counts one more
failure; non-TAP tests count one each. Exit status 1 on any failure."""
import json
import os
import re
import sys

logs = sys.argv[1:] or ["build/meson-logs/testlog.json"]
passed = failed = skipped = 0
failures = []
# Per group: the accelerator of an integration test (its name ends -kvm or
# -proc), "unit", each "under ASan+UBSan" from a sanitizer build's log.
groups = {}


def entries():
    for log in logs:
        if log.endswith(".tap"):
            # A plain TAP stream (the fuzz smoke run): one entry.
            try:
                with open(log) as f:
                    out = f.read()
            except OSError as e:
                yield {"name": log, "result": "ERROR", "stdout": f"cannot read {log}: {e}"}
                continue
            bad = "Bail out!" in out or not re.search(r"^1\.\.\d+", out, re.M)
            name = "fuzz smoke" if "fuzz" in os.path.basename(log) else os.path.basename(log)[:-4]
            yield {"name": name, "result": "FAIL" if bad else "OK", "stdout": out}
            continue
        try:
            with open(log) as f:
                lines = f.readlines()
        except OSError as e:
            yield {"name": log, "result": "ERROR", "stdout": f"cannot read {log}: {e}"}
            continue
        # A sanitizer build's log (its directory ends -asan or -san) is
        # tagged with the directory; the plain build's is not.
        bdir = log.split("/")[-3] if log.count("/") >= 2 else ""
        tag = f" [{bdir}]" if re.search(r"-a?san$", bdir) else ""
        for line in lines:
            entry = json.loads(line)
            entry["name"] += tag
            yield entry


def group_of(name):
    if name == "fuzz smoke":
        return "fuzz smoke (libFuzzer, ASan+UBSan)"
    if name == "sanitizer-reports":
        return "sanitizer reports (every program, SANITIZE=1)"
    san = " under ASan+UBSan" if name.endswith("]") else ""
    m = re.search(r"-(kvm|proc)(?: \[[^]]*\])?$", name)
    if m:
        return f"accelerator {m.group(1)}{san}"
    return "unit" + san


def count(name, p, f, s):
    g = groups.setdefault(group_of(name), [0, 0, 0])
    g[0] += p
    g[1] += f
    g[2] += s


for entry in entries():
    name, result, out = entry["name"], entry["result"], entry.get("stdout") or ""
    before = (passed, failed, skipped)
    tap = [l for l in out.splitlines() if re.match(r"(not )?ok\b", l)]
    if not tap:
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(f"{name} ({result})")
        count(name, passed - before[0], failed - before[1], skipped - before[2])
        continue
    bad = 0
    for l in tap:
        if l.startswith("not ok"):
            bad += 1
            failures.append(f"{name}: {l}")
        elif re.search(r"#\s*SKIP", l, re.I):
            skipped += 1
        else:
            passed += 1
    failed += bad
    if result not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
        failed += 1
        failures.append(f"{name} ({result} after {len(tap)} cases)")
    count(name, passed - before[0], failed - before[1], skipped - before[2])
for f in failures:
    print(f"FAILED: {f}")
accels = os.environ.get("COMPSC_ACCELS")
if accels:
    print(f"accelerators that ran the VM tests: {', '.join(accels.split())}")
for g in sorted(groups):
    p, f, s = groups[g]
    print(f"  {g}: {p} passed, {f} failed, {s} skipped")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
