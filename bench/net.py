#!/usr/bin/env python3
"""Networking over virtio-net (needs root and KVM): a private test bed, one
guest with iperf, echo and http, peers in the `peer` namespace.

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
os.environ.setdefault("COMPSC_PEER", os.path.join(build, "tools", "peer", "compsc-peer"))
from harness import kvm_problem  # noqa: E402
from netbed import PEER_TOOL, Testbed, Vm, root_problem  # noqa: E402

problem = kvm_problem() or root_problem()
if problem:
    print(f"bench net: skipped: {problem}")
    sys.exit(0)

IP = "10.0.0.10"
rows = []


def iperf_bits(out):
    r = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
    return int(r[-1][8]) if r else 0


with Testbed("bench") as bed:
    vm = Vm(bed, f"app=echo,iperf,http ip={IP}/24 gw=10.0.0.1 run-secs=600")
    try:
        if not vm.wait_for("net: ready"):
            sys.exit(f"bench net: guest did not come up:\n{vm.text()}")
        bed.run("peer", ["ping", "-c", "2", "-i", "0.2", IP])
        _, out = bed.run("peer", ["iperf", "-c", IP, "-t", "5", "-y", "C"], timeout=30)
        rows.append(("TCP peer->guest (iperf 2, 5 s)", f"{iperf_bits(out) / 1e6:.0f} Mbit/s"))
        for rate in (10000, 30000, 60000):
            _, out = bed.run("peer", [PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", str(rate), "--secs", "3",
                                      "--echo", "--grace-ms", "300"], timeout=30)
            m = re.search(r"sent (\d+) received \d+ unique (\d+) missed (\d+).*longest_gap_ms ([\d.]+)", out)
            if m:
                rows.append((f"UDP echo, offered {rate}/s (64 B)",
                             f"{int(m.group(2)) / 3:.0f}/s back, {m.group(3)} missed, longest gap {m.group(4)} ms"))
        _, out = bed.run("peer", ["wrk", "-t", "1", "-c", "4", "-d", "5", "-H", "Connection: keep-alive",
                                  f"http://{IP}/index.html"], timeout=30)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        rows.append(("HTTP wrk keep-alive index.html", f"{float(m.group(1)):.0f} req/s" if m else "failed"))
        _, out = bed.run("peer", ["ab", "-n", "3000", "-c", "4", f"http://{IP}/index.html"], timeout=60)
        m = re.search(r"Requests per second:\s+([\d.]+)", out)
        rows.append(("HTTP ab (connection per request) index.html", f"{float(m.group(1)):.0f} req/s" if m else "failed"))
        _, out = bed.run("peer", ["ab", "-n", "30", "-c", "2", f"http://{IP}/big.bin"], timeout=60)
        m = re.search(r"Transfer rate:\s+([\d.]+)", out)
        rows.append(("HTTP ab /big.bin (1 MiB)", f"{float(m.group(1)) * 8 / 1000:.0f} Mbit/s" if m else "failed"))
    finally:
        vm.stop()
    srv = subprocess.Popen(bed.ns("peer") + ["iperf", "-s", "-y", "C"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    vm = Vm(bed, f"ip={IP}/24 iperf-client=10.0.0.3 secs=5 run-secs=30")
    vm.finish(60)
    time.sleep(0.5)
    srv.terminate()
    sout, _ = srv.communicate(timeout=10)
    rows.append(("TCP guest->peer (lwiperf client, 5 s)", f"{iperf_bits(sout) / 1e6:.0f} Mbit/s"))

print("bench net: virtio-net (ioeventfd kicks, irqfd MSI, EVENT_IDX), one guest on a test-bed bridge")
w = max(len(r[0]) for r in rows)
for name, value in rows:
    print(f"  {name:<{w}}  {value}")
