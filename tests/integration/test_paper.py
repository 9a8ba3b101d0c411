#!/usr/bin/env python3
"""The paper's experiments (bench/paper.py), a few seconds of each, into a
scratch directory: the harness keeps working, every file is written, and
what they hold is sane - one series or row per method, throughput and
downtimes above zero, counts non-negative, the negative control failing
the way it does, and total migration time growing with the memory
written."""
import csv
import os
import subprocess
import sys
import tempfile

from harness import Tap, accel_in_use, accel_problem, problems
from netbed import root_problem

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PAPER = os.path.join(ROOT, "bench", "paper.py")
METHODS = ["pv", "bonding", "compsc", "compsc-off"]
EXPS = ["throughput", "downtime", "loss", "overhead", "scaling"]

t = Tap()
CHECKS = [
    "bench/paper.py (quick) runs every experiment and exits 0",
    "each experiment wrote its CSV, its markdown table and a PNG plot",
    "throughput over time: one series per method, each with samples above 0 before the migration",
    "downtime: one row per method, hypervisor downtime > 0; the service came back for all but compsc-off",
    "missed/duplicated: every method under the three loads, counts non-negative; compsc-off misses datagrams",
    "overhead: one row per method, TCP, UDP and HTTP figures all above 0",
    "scaling: downtime and total > 0 at every point; total time grows with the memory written",
]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()


def rows(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


with tempfile.TemporaryDirectory() as out:
    accel = accel_in_use()
    env = dict(os.environ, COMPSC_PAPER_QUICK="1", COMPSC_RESULTS_DIR=out, COMPSC_ACCEL=accel)
    p = subprocess.run([sys.executable, PAPER], env=env, capture_output=True, text=True, timeout=600)
    print("# " + "\n# ".join((p.stdout + p.stderr).strip().splitlines()[-40:]))
    t.ok(p.returncode == 0, CHECKS[0], p.stdout + p.stderr)

    def path(name, ext):
        return os.path.join(out, f"{name}-{accel}.{ext}")

    def size(p_):
        return os.path.getsize(p_) if os.path.exists(p_) else 0

    def png_ok(p_):
        if size(p_) < 2000:
            return False
        with open(p_, "rb") as f:
            return f.read(8) == b"\x89PNG\r\n\x1a\n"

    missing = [f"{e}.{ext}" for e in EXPS for ext in ("csv", "md") if not size(path(e, ext))]
    missing += [f"{e}.png" for e in EXPS if not png_ok(path(e, "png"))]
    t.ok(not missing, CHECKS[1], f"missing or empty: {missing}")

    thr = rows(path("throughput", "csv"))
    per = {m: [num(r["mbit_s"]) for r in thr if r["method"] == m] for m in METHODS}
    t.ok(all(per[m] and max(per[m][:10]) > 0 for m in METHODS), CHECKS[2],
         {m: per[m][:12] for m in METHODS})

    dt = rows(path("downtime", "csv"))
    by = {r["method"]: r for r in dt}
    ok = sorted(by) == sorted(METHODS) and len(dt) == len(METHODS)
    ok = ok and all((num(by[m]["downtime_ms"]) or 0) > 0 for m in METHODS)
    ok = ok and all(by[m]["recovered"] == "1" and (num(by[m]["service_downtime_ms"]) or 0) > 0
                    for m in METHODS if m != "compsc-off")
    ok = ok and by.get("compsc-off", {}).get("recovered") == "0"
    t.ok(ok, CHECKS[3], dt)

    loss = rows(path("loss", "csv"))
    cells = {(r["method"], r["load"]) for r in loss}
    ok = cells == {(m, l) for m in METHODS for l in ("udp", "tcp", "http")}
    ok = ok and all(num(r[k]) is not None and num(r[k]) >= 0 for r in loss for k in ("sent", "missed", "duplicated"))
    ok = ok and all(num(r["missed"]) > 0 for r in loss if r["method"] == "compsc-off")
    t.ok(ok, CHECKS[4], loss)

    ov = rows(path("overhead", "csv"))
    ok = sorted(r["method"] for r in ov) == sorted(METHODS)
    ok = ok and all((num(r[k]) or 0) > 0 for r in ov for k in ("tcp_mbit_s", "udp_echo_pps", "http_req_s"))
    t.ok(ok, CHECKS[5], ov)

    sc = rows(path("scaling", "csv"))
    mem = sorted((num(r["x"]), num(r["total_ms"])) for r in sc if r["series"] == "memory")
    ok = len(mem) >= 2 and any(r["series"] == "dirty_rate" for r in sc)
    ok = ok and all((num(r["downtime_ms"]) or 0) > 0 and (num(r["total_ms"]) or 0) > 0 for r in sc)
    ok = ok and all(b[1] > a[1] for a, b in zip(mem, mem[1:]))
    t.ok(ok, CHECKS[6], sc)
t.done()
