#!/usr/bin/env python3
"""A hostile guest (app=hostile) on host A's VF 0: descriptors outside its
memory, rings wrapped onto themselves, DMA aimed at the VF's own
registers, a flooded mailbox, CompSC shared areas at bad addresses and one
with bogus counts, every offset of the BAR written and read. Meanwhile a
well-behaved VM on VF 1 of the same NIC serves a UDP echo stream. The host
processes survive, the other VM keeps working, every event is counted
and logged, a migration of the hostile VM is refused cleanly (it keeps
running), and the VF serves a new VM afterwards."""
import os
import re
import subprocess
import tempfile
import time

from harness import Tap, accel_problem, problems
from miglib import COMPSC
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem

t = Tap()
CHECKS = [
    "the hostile guest ran every step and its VMM keeps running it",
    "compsc-nic survives and still answers on pf.sock",
    "the NIC counted the attack on VF 0 (DMA faults, mailbox messages) and logged the DMA faults",
    "the VMM refused the shared areas at bad addresses (VMM-owned page, unaligned, outside RAM)",
    "the well-behaved VM on VF 1 answered its UDP echo stream through the attack (>= 99 %)",
    "a migration of the hostile VM (bogus shared area) is refused, the report gives the reason; the VM keeps running",
    "after the hostile VM stops, VF 0 serves a new VM (ping answered)",
    "VF 1's counters show no fault caused by VF 0's attack",
]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

with tempfile.TemporaryDirectory() as tmp, Testbed("hostile") as bed, \
        HostNic(bed, "hostA") as nic, HostNic(bed, "hostB") as nic_b:
    good = Vm(bed, "app=echo ip=10.0.0.11/24 gw=10.0.0.1", host="hostA", tap=None, vf=nic.vf(1))
    api = os.path.join(tmp, "h.sock")
    bad = Vm(bed, "app=hostile run-secs=60", host="hostA", tap=None, vf=nic.vf(0), extra=["--api", api])
    dst = Vm(bed, "", host="hostB", tap=None, vf=nic_b.vf(0),
             extra=["--api", os.path.join(tmp, "d.sock"), "--incoming", "tcp:10.0.0.2:4620"])
    vms = [good, bad, dst]
    try:
        good.wait_for("net: ready")
        peer = subprocess.Popen(bed.ns("peer") + [PEER_TOOL, "send", "--to", "10.0.0.11:7", "--rate", "500",
                                                  "--secs", "6", "--echo", "--grace-ms", "500"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        done = bad.wait_for("hostile: done", timeout=40)
        alive = bad.wait_for("hostile: alive 2", timeout=10)
        print("# " + "\n# ".join(l for l in bad.out if l.startswith("hostile:") and "alive" not in l))
        t.ok(done and alive and bad.proc.poll() is None, CHECKS[0], bad.text())

        try:
            vf0 = nic.ctl("list")
            ok = nic.alive() and "vfs" in vf0
        except (OSError, ValueError) as e:
            vf0, ok = {}, False
            print(f"# pf.sock: {e}")
        t.ok(ok, CHECKS[1], nic.text()[-2000:])

        vfs = {v["vf"]: v for v in vf0.get("vfs", [])}
        err0 = vfs.get(0, {}).get("errors", {})
        print(f"# VF 0 errors: {err0}")
        log = nic.text()
        t.ok(err0.get("dma_faults", 0) > 0 and err0.get("mbx_messages", 0) >= 2000 and "DMA fault" in log,
             CHECKS[2], f"{vf0}\n{log[-3000:]}")

        statuses = [int(m.group(1)) for l in bad.out for m in [re.search(r"hostile: area at 0x[0-9a-f]+: status (\d+)", l)]
                    if m]
        t.ok(len(statuses) == 3 and all(s != 0 for s in statuses), CHECKS[3], "\n".join(bad.out))

        pout, _ = peer.communicate(timeout=60)
        m = re.search(r"sent (\d+) received \d+ unique (\d+)", pout)
        print("# echo from the good VM: " + pout.strip())
        t.ok(m and int(m.group(2)) >= 0.99 * int(m.group(1)) and good.proc.poll() is None, CHECKS[4],
             pout + good.text())

        r = subprocess.run([COMPSC, "migrate", api, "--to", "tcp:10.0.0.2:4620"], capture_output=True, text=True,
                           timeout=60)
        mark = len(bad.out)
        time.sleep(1.5)
        later = any("hostile: alive" in l for l in bad.out[mark:])
        reason = "shared area is invalid" in (r.stdout + r.stderr)	# in the report itself
        print(f"# migrate: exit {r.returncode}; " + " | ".join((r.stdout + r.stderr).strip().splitlines()[:3]))
        t.ok(r.returncode == 1 and reason and bad.proc.poll() is None and later, CHECKS[5],
             f"{r.stdout}{r.stderr}\n{bad.text()[-2000:]}")

        bad.stop()
        vms.remove(bad)
        fresh = Vm(bed, "app=echo ip=10.0.0.12/24 gw=10.0.0.1", host="hostA", tap=None, vf=nic.vf(0))
        vms.append(fresh)
        ready = fresh.wait_for("net: ready")
        rc, out = bed.run("peer", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.12"])
        t.ok(ready and rc == 0, CHECKS[6], out + fresh.text())

        err1 = {v["vf"]: v for v in nic.ctl("list").get("vfs", [])}.get(1, {}).get("errors", {})
        print(f"# VF 1 errors: {err1}")
        t.ok(err1 and err1.get("dma_faults") == 0 and err1.get("mbx_nacks") == 0, CHECKS[7], str(err1))
    finally:
        for vm in vms:
            vm.stop()
t.done()
