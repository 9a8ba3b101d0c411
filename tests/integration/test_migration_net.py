#!/usr/bin/env python3
"""Live migration with the network in use, on the test bed: the VM's
virtio-net moves from host A's TAP to host B's (the para-virtual baseline of
the paper). An iperf 2 transfer from the peer runs across the migration and
its TCP connection survives; then the VM migrates back while a UDP echo
stream runs, and the service downtime the peer saw is reported. A VM with a
pass-through VF whose migration fails in stop-and-copy (after the PF
stopped its VF) gets its VF back and keeps answering."""
import os
import re
import subprocess
import tempfile
import time

from harness import Tap, accel_problem, problems
from miglib import COMPSC, Api
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem

t = Tap()
CHECKS = ["iperf 2 across a migration A -> B: the TCP connection survives and completes",
          "iperf throughput after the migration is similar to before",
          "the guest announced itself on host B (gratuitous ARP) and the source exited",
          "UDP echo across a migration B -> A: stream continues, downtime reported",
          "migration report: downtime below the 300 ms budget",
          "a VM with a VF, destination killed in stop-and-copy: the source's VF restarts, the VM answers ping",
          "destination killed in pre-copy: the source answers ping, the destination failed",
          "destination without the VM's virtio-net: reservation fails, the source answers ping",
          "cancel in stop-and-copy: the source answers ping, its network works"]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

IP = "10.0.0.10"
GUEST_ARGS = f"app=echo,iperf ip={IP}/24 gw=10.0.0.1"


def incoming(bed, host, sock, port):
    addr = "10.0.0.1" if host == "hostA" else "10.0.0.2"
    vm = Vm(bed, "", host=host, extra=["--api", sock, "--incoming", f"tcp:{addr}:{port}"])
    end = time.monotonic() + 10
    while time.monotonic() < end and not any("listening" in l for l in vm.err):
        time.sleep(0.02)
    return vm, f"tcp:{addr}:{port}"


def migrate(sock, uri):
    return subprocess.run([COMPSC, "migrate", sock, "--to", uri], capture_output=True, text=True, timeout=60)


with tempfile.TemporaryDirectory() as tmp, Testbed("mignet") as bed:
    a_sock, b_sock, a2_sock = (os.path.join(tmp, n) for n in ("a.sock", "b.sock", "a2.sock"))
    dst, uri = incoming(bed, "hostB", b_sock, 4444)
    src = Vm(bed, GUEST_ARGS, host="hostA", extra=["--api", a_sock])
    vms = [dst, src]
    try:
        src.wait_for("net: ready")
        # 1. iperf from the peer for 8 s, one report per second; migrate at ~3 s.
        iperf = subprocess.Popen(bed.ns("peer") + ["iperf", "-c", IP, "-t", "8", "-i", "1", "-y", "C"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(3)
        r = migrate(a_sock, uri)
        out, _ = iperf.communicate(timeout=60)
        rows = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
        intervals = [(r_[6], int(r_[8])) for r_ in rows]
        per_sec = [b for span, b in intervals if re.match(r"^\d+\.0-\d+\.0$", span) and
                   float(span.split("-")[1]) - float(span.split("-")[0]) == 1.0]
        t.ok(iperf.returncode == 0 and r.returncode == 0 and "migration completed" in r.stdout
             and len(per_sec) >= 7, CHECKS[0], f"{r.stdout}{r.stderr}\n{out}")
        before = sum(per_sec[:2]) / 2 if len(per_sec) >= 2 else 0
        after = sum(per_sec[-3:]) / 3 if len(per_sec) >= 3 else 0
        print(f"# iperf across migration: before {before / 1e6:.0f} Mbit/s, after {after / 1e6:.0f} Mbit/s, "
              f"per second {[round(b / 1e6) for b in per_sec]}")
        t.ok(before > 0 and after >= 0.5 * before, CHECKS[1], out)
        arrived = dst.wait_for("gratuitous ARP sent", timeout=5)
        t.ok(arrived and src.finish(10) == 0 and any("the VM now runs at" in l for l in src.err), CHECKS[2],
             dst.text() + src.text())

        # 2. Back to host A with a UDP echo stream running: 2000/s for 6 s.
        back, back_uri = incoming(bed, "hostA", a2_sock, 4445)
        vms.append(back)
        jpath = os.path.join(tmp, "peer.json")
        peer = subprocess.Popen(bed.ns("peer") + [PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", "2000",
                                                  "--secs", "6", "--echo", "--grace-ms", "500",
                                                  "--json", jpath],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        r = migrate(b_sock, back_uri)
        pout, _ = peer.communicate(timeout=60)
        m = re.search(r"sent (\d+) received \d+ unique (\d+) missed (\d+) duplicated (\d+).*longest_gap_ms ([\d.]+)",
                      pout)
        ok = m and r.returncode == 0 and int(m.group(2)) >= 0.95 * int(m.group(1))
        if m:
            print(f"# UDP echo across migration: sent {m.group(1)}, back {m.group(2)}, missed {m.group(3)}, "
                  f"duplicated {m.group(4)}; service downtime (longest gap) {m.group(5)} ms")
        t.ok(ok and back.wait_for("gratuitous ARP sent", timeout=5), CHECKS[3], f"{r.stdout}{r.stderr}\n{pout}")
        dm = re.search(r"downtime\s+([\d.]+) ms", r.stdout)
        t.ok(dm and float(dm.group(1)) < 300, CHECKS[4], r.stdout)
    finally:
        for vm in vms:
            vm.stop()

    # 3. A VM with a VF: the migration fails after the source's PF stopped
    # the VF's queues (stop-and-copy, destination killed). The VF must run
    # again (CompSC's abort path) and the VM answer on it.
    with HostNic(bed, "hostA") as nic_a, HostNic(bed, "hostB") as nic_b:
        vf_sock, dst_sock = os.path.join(tmp, "vf.sock"), os.path.join(tmp, "vfdst.sock")
        dst = Vm(bed, "", host="hostB", tap=None, vf=nic_b.vf(0),
                 extra=["--api", dst_sock, "--incoming", "tcp:10.0.0.2:4446"])
        vm = Vm(bed, GUEST_ARGS, host="hostA", tap=None, vf=nic_a.vf(0), extra=["--api", vf_sock])
        try:
            vm.wait_for("net: ready")
            end = time.monotonic() + 10
            while time.monotonic() < end and not any("listening" in l for l in dst.err) and dst.proc.poll() is None:
                time.sleep(0.02)
            api = Api(vf_sock)
            # Killed while the source is stalled in stop-and-copy: after the
            # stall every device saves (the PF stops the source's VF and
            # hands over its held frames) before any record is sent, and
            # the first send fails. (At commitment the destination may
            # already have sent READY, and the source would commit.)
            api.cmd("migrate", uri="tcp:10.0.0.2:4446", **{"stall-stage": "stop-and-copy", "stall-ms": 2000})
            api.wait_stage("stop-and-copy", timeout=20)
            dst.proc.kill()
            dst.proc.wait(5)
            final = api.wait_final(30)
            rc, out = bed.run("peer", ["ping", "-c", "5", "-i", "0.2", "-W", "2", IP])
            t.ok(final and final["status"] == "failed" and rc == 0 and " 0% packet loss" in out
                 and vm.proc.poll() is None, CHECKS[5], f"{final}\n{out}\n{vm.text()}\n{nic_a.text()}")
        finally:
            vm.stop()
            dst.stop()

    # 4. Failures with the network in use: until commitment the source VM
    # is the VM, and it keeps answering on the network.
    def failure(name, dst_tap, action, stall):
        src_sock, dst_sock = os.path.join(tmp, f"{name}-a.sock"), os.path.join(tmp, f"{name}-b.sock")
        dst = Vm(bed, "", host="hostB", tap=dst_tap,
                 extra=["--api", dst_sock, "--incoming", "tcp:10.0.0.2:4450"])
        src = Vm(bed, GUEST_ARGS, host="hostA", extra=["--api", src_sock])
        try:
            src.wait_for("net: ready")
            end = time.monotonic() + 10
            while time.monotonic() < end and not any("listening" in l for l in dst.err) and dst.proc.poll() is None:
                time.sleep(0.02)
            api = Api(src_sock)
            args = {"uri": "tcp:10.0.0.2:4450"}
            if stall:
                args.update({"stall-stage": stall, "stall-ms": 3000})
            api.cmd("migrate", **args)
            if stall:
                api.wait_stage(stall, timeout=20)
            action(api, dst)
            final = api.wait_final(30)
            rc, out = bed.run("peer", ["ping", "-c", "5", "-i", "0.2", "-W", "2", IP])
            dst_rc = dst.finish(15)
            ok = (final and final["status"] in ("failed", "cancelled") and rc == 0 and " 0% packet loss" in out
                  and src.proc.poll() is None and dst_rc not in (0, None))
            return ok, f"{final}\n{out}\n{src.text()}\n{dst.text()}"
        finally:
            src.stop()
            dst.stop()

    ok, diag = failure("kill", "tap0", lambda api, dst: dst.proc.kill(), "iterative-pre-copy")
    t.ok(ok, CHECKS[6], diag)
    ok, diag = failure("nodev", None, lambda api, dst: None, None)
    t.ok(ok and "virtio-net0" in diag, CHECKS[7], diag)
    ok, diag = failure("cancel", "tap0", lambda api, dst: api.cmd("migrate-cancel"), "stop-and-copy")
    t.ok(ok, CHECKS[8], diag)

t.done()
