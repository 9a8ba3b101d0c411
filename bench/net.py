#!/usr/bin/env python3
"""Networking over virtio-net and over the SR-IOV VF (needs root and KVM): a
private test bed, one guest with iperf, echo and http, peers in the `peer`
namespace; each device kind measured in the same run.

  TCP peer->guest   iperf 2 client in peer -> lwiperf server, 5 s
  TCP guest->peer   lwiperf client (secs=5) -> iperf 2 server in peer
  UDP echo          compsc-peer --echo at increasing rates, 3 s each: the
                    rate that came back and what was missed
  HTTP              wrk (keep-alive, 4 connections, 5 s) and ab (new
                    connection per request) on /index.html; ab on /big.bin
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
os.environ.setdefault("COMPSC_BUILD", "build")
build = os.environ["COMPSC_BUILD"]
os.environ.setdefault("COMPSC_VMM", os.path.join(build, "vmm", "compsc-vmm"))
os.environ.setdefault("COMPSC_GUEST", os.path.join(build, "guest", "compsc-guest.elf"))
os.environ.setdefault("COMPSC_NIC", os.path.join(build, "nic", "compsc-nic"))
os.environ.setdefault("COMPSC_PEER", os.path.join(build, "tools", "peer", "compsc-peer"))
from harness import accel_problem, problems  # noqa: E402
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem  # noqa: E402

problem = problems(accel_problem(), root_problem())
if problem:
    print(f"bench net: skipped: {problem}")
    sys.exit(0)

IP = "10.0.0.10"
KINDS = [("virtio-net", None), ("VF 1g", "1g"), ("VF unlimited", "off")]


# Every measurement that produced no figure: the table shows "failed" in
# its cell and the run exits 1 (make bench must not pass on a broken one).
failures = []
current = None  # the device kind being measured


def failed(what, out):
    failures.append(f"{current}: {what}: {out.strip()[-300:]}")
    return "failed"


def iperf_mbit(out, what):
    r = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
    try:
        bits = int(r[-1][8]) if r else 0
    except ValueError:
        bits = 0
    return f"{bits / 1e6:.0f}" if bits > 0 else failed(what, out)


def start_vm(bed, nic, cmdline):
    if nic is None:
        return Vm(bed, cmdline)
    return Vm(bed, cmdline, tap=None, vf=nic.vf(0))


def measure(bed, nic):
    """One guest on this device kind; returns {row name: value}."""
    res = {}
    vm = start_vm(bed, nic, f"app=echo,iperf,http ip={IP}/24 gw=10.0.0.1 run-secs=600")
    try:
        if not vm.wait_for("net: ready"):
            sys.exit(f"bench net: guest did not come up:\n{vm.text()}")
        bed.run("peer", ["ping", "-c", "2", "-i", "0.2", IP])
        _, out = bed.run("peer", ["iperf", "-c", IP, "-t", "5", "-y", "C"], timeout=30)
        res["TCP peer->guest (iperf 2, 5 s), Mbit/s"] = iperf_mbit(out, "TCP peer->guest")
        for rate in (10000, 30000, 60000):
            _, out = bed.run("peer", [PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", str(rate), "--secs", "3",
                                      "--echo", "--grace-ms", "300"], timeout=30)
            m = re.search(r"sent (\d+) received \d+ unique (\d+) missed (\d+).*longest_gap_ms ([\d.]+)", out)
            res[f"UDP echo offered {rate}/s: back/s, missed"] = (
                f"{int(m.group(2)) / 3:.0f}, {m.group(3)}" if m else failed(f"UDP echo at {rate}/s", out))
        _, out = bed.run("peer", ["wrk", "-t", "1", "-c", "4", "-d", "5", "-H", "Connection: keep-alive",
                                  f"http://{IP}/index.html"], timeout=30)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        res["HTTP wrk keep-alive index.html, req/s"] = f"{float(m.group(1)):.0f}" if m else failed("wrk", out)
        _, out = bed.run("peer", ["ab", "-n", "3000", "-c", "4", f"http://{IP}/index.html"], timeout=60)
        m = re.search(r"Requests per second:\s+([\d.]+)", out)
        res["HTTP ab new connection each, req/s"] = f"{float(m.group(1)):.0f}" if m else failed("ab index.html", out)
        _, out = bed.run("peer", ["ab", "-n", "30", "-c", "2", f"http://{IP}/big.bin"], timeout=60)
        m = re.search(r"Transfer rate:\s+([\d.]+)", out)
        res["HTTP ab /big.bin (1 MiB), Mbit/s"] = (f"{float(m.group(1)) * 8 / 1000:.0f}" if m
                                                    else failed("ab big.bin", out))
    finally:
        vm.stop()
    srv = subprocess.Popen(bed.ns("peer") + ["iperf", "-s", "-y", "C"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    vm = start_vm(bed, nic, f"ip={IP}/24 iperf-client=10.0.0.3 secs=5 run-secs=30")
    vm.finish(60)
    time.sleep(0.5)
    srv.terminate()
    sout, _ = srv.communicate(timeout=10)
    res["TCP guest->peer (lwiperf client, 5 s), Mbit/s"] = iperf_mbit(sout, "TCP guest->peer")
    return res


results = {}
with Testbed("bench") as bed:
    for kind, rate in KINDS:
        current = kind
        if rate is None:
            results[kind] = measure(bed, None)
        else:
            with HostNic(bed, "hostA", rate=rate) as nic:
                results[kind] = measure(bed, nic)

print(f"bench net [{os.environ.get('COMPSC_ACCEL') or 'auto'}]: one guest on the test-bed bridge; virtio-net (ioeventfd kicks, irqfd MSI, EVENT_IDX)")
print("           and the SR-IOV VF (compsc-nic, 82576 line rate 1 Gbit/s, and unlimited) side by side")
names = list(results[KINDS[0][0]].keys())
w = max(len(n) for n in names)
print(f"  {'':<{w}}" + "".join(f"{k:>16}" for k, _ in KINDS))
for n in names:
    print(f"  {n:<{w}}" + "".join(f"{results[k].get(n, '-'):>16}" for k, _ in KINDS))
if failures:
    for f in failures:
        print(f"bench net: FAILED: {f}")
    sys.exit(1)
