#!/usr/bin/env python3
"""The guest as a network host over its SR-IOV VF: the host's compsc-nic has
its uplink on the test bed's bridge; real Linux programs in the peer
namespace talk to lwIP in the guest through the VF. Same checks as over
virtio-net (test_net.py): ping, iperf 2, UDP echo with compsc-peer, HTTP."""
import re

import json
import os
import socket

from harness import Tap, accel_problem, problems
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem

t = Tap()
CHECKS = ["guest brings up the VF with lwIP (MAC from the PF)", "ping over the VF: 0% loss",
          "iperf 2 peer->guest over the VF: bytes > 0, at most the 1 Gbit/s line rate",
          "UDP echo over the VF 2000/s x 3 s: none missed or duplicated",
          "ab over the VF: index.html 200 requests, none failed", "ab over the VF: /big.bin is 1 MiB",
          "VF statistics: driver and hardware counters agree",
          "testbed --nics: both hosts run a compsc-nic; a guest on host B's VF reaches the peer",
          "testbed down stops the NICs and removes their run directories"]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

GUEST_IP = "10.0.0.10"
with Testbed("netvf") as bed, HostNic(bed, "hostA") as nic:
    vm = Vm(bed, f"app=echo,iperf,http ip={GUEST_IP}/24 gw=10.0.0.1 stats-ms=1000 run-secs=60",
            tap=None, vf=nic.vf(0))
    try:
        t.ok(vm.wait_for("net: ready") and any("net: vf0 02:00:00:0a:00:10 ip 10.0.0.10" in l for l in vm.out),
             CHECKS[0], vm.text() + nic.text())

        rc, out = bed.run("peer", ["ping", "-c", "10", "-i", "0.1", "-W", "2", GUEST_IP])
        t.ok(rc == 0 and " 0% packet loss" in out, CHECKS[1], out)

        rc, out = bed.run("peer", ["iperf", "-c", GUEST_IP, "-t", "3", "-y", "C"], timeout=30)
        rows = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
        nbytes = int(rows[-1][7]) if rows else 0
        bps = int(rows[-1][8]) if rows else 0
        t.ok(rc == 0 and nbytes > 0 and bps <= 1.05e9, CHECKS[2], f"bytes={nbytes} bps={bps}\n{out}")
        print(f"# iperf peer->guest over the VF: {nbytes} bytes, {bps / 1e6:.0f} Mbit/s")

        rc, out = bed.run("peer", [PEER_TOOL, "send", "--to", f"{GUEST_IP}:7", "--rate", "2000", "--secs", "3",
                                   "--echo", "--grace-ms", "500"], timeout=30)
        m = re.search(r"sent (\d+) received (\d+) unique (\d+) missed (\d+) duplicated (\d+)", out)
        t.ok(rc == 0 and m and m.group(1) == "6000" and m.group(3) == "6000" and m.group(4) == "0"
             and m.group(5) == "0", CHECKS[3], out)

        rc, out = bed.run("peer", ["ab", "-n", "200", "-c", "4", f"http://{GUEST_IP}/index.html"], timeout=60)
        t.ok(rc == 0 and re.search(r"Complete requests:\s+200", out) and re.search(r"Failed requests:\s+0", out)
             and re.search(r"Non-2xx", out) is None, CHECKS[4], out)

        rc, out = bed.run("peer", ["ab", "-n", "10", "-c", "2", f"http://{GUEST_IP}/big.bin"], timeout=60)
        t.ok(rc == 0 and re.search(r"Document Length:\s+1048576 bytes", out)
             and re.search(r"Complete requests:\s+10", out) and re.search(r"Failed requests:\s+0", out),
             CHECKS[5], out)
        vm.wait_for("stats periodic", timeout=5)
    finally:
        vm.stop()
    # The hardware counters (igbvf-style 64-bit totals) and the driver's
    # own counts differ only by frames in flight at that instant: received
    # by the NIC but not yet polled, or queued by the driver but not yet
    # sent (at most a ring each).
    last = [l for l in vm.out if l.startswith("stats") and "vf0:" in l]
    m = re.search(r"rx (\d+) pkts .*\| tx (\d+) pkts .*hw gprc (\d+) gptc (\d+)", last[-1]) if last else None
    t.ok(m and int(m.group(1)) > 1000 and 0 <= int(m.group(3)) - int(m.group(1)) <= 256
         and 0 <= int(m.group(2)) - int(m.group(4)) <= 256, CHECKS[6], last[-1] if last else vm.text())



def pf_list(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"list\n")
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(65536)
    return json.loads(data)["vfs"]


with Testbed("nics", nics=True) as bed:
    dirs = {h: bed.nic_dir(h) for h in ("hostA", "hostB")}
    vfs = {h: pf_list(os.path.join(d, "pf.sock")) for h, d in dirs.items()}
    vm = Vm(bed, f"app=echo ip={GUEST_IP}/24 gw=10.0.0.2 run-secs=20", host="hostB", tap=None,
            vf=os.path.join(dirs["hostB"], "vf0.sock"))
    try:
        up = vm.wait_for("net: ready")
        rc, out = bed.run("peer", ["ping", "-c", "3", "-i", "0.2", "-W", "2", GUEST_IP])
    finally:
        vm.stop()
    t.ok(len(vfs["hostA"]) == 4 and len(vfs["hostB"]) == 4 and vfs["hostB"][0]["perm_mac"] == "02:00:00:0b:00:10"
         and up and rc == 0 and any("vf0 02:00:00:0b:00:10" in l for l in vm.out), CHECKS[7],
         f"{vfs}\n{out}\n{vm.text()}")
t.ok(not any(os.path.exists(d) for d in dirs.values()), CHECKS[8], dirs)

t.done()
