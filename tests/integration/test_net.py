#!/usr/bin/env python3
"""virtio-net end to end, in a private test bed (scripts/testbed, unique
prefix, always torn down): ping, iperf 2 against lwiperf, UDP echo with
compsc-peer (zero loss), HTTP pages and the 1 MiB file with ab, the guest's
UDP stream and iperf client towards the peer, and the statistics lines."""
import re
import subprocess
import time

from harness import Tap, accel_problem, problems
from netbed import PEER_TOOL, Testbed, Vm, root_problem

t = Tap()
CHECKS = ["guest brings up virtio-net with lwIP", "ping from peer: 0% loss",
          "iperf 2 peer->guest: bytes > 0, report parsed", "UDP echo 2000/s x 3 s: none missed or duplicated",
          "TCP echo returns the bytes", "ab: index.html 200 requests, right length, none failed",
          "ab: /big.bin is 1 MiB, none failed", "periodic and final statistics lines",
          "guest udpsource -> compsc-peer recv: none missed", "guest iperf client -> iperf 2 server: bytes > 0",
          "datagrams sent while ARP is unanswered are queued, none missed",
          "VMM ends cleanly, no device error"]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

GUEST_IP = "10.0.0.10"
with Testbed("net") as bed:
    vm = Vm(bed, f"app=echo,iperf,http ip={GUEST_IP}/24 gw=10.0.0.1 stats-ms=1000 run-secs=40")
    try:
        t.ok(vm.wait_for("net: ready") and any("event-idx 1" in l for l in vm.out), CHECKS[0], vm.text())

        rc, out = bed.run("peer", ["ping", "-c", "10", "-i", "0.1", "-W", "2", GUEST_IP])
        t.ok(rc == 0 and " 0% packet loss" in out, CHECKS[1], out)

        rc, out = bed.run("peer", ["iperf", "-c", GUEST_IP, "-t", "3", "-y", "C"], timeout=30)
        rows = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
        nbytes = int(rows[-1][7]) if rows else 0
        t.ok(rc == 0 and nbytes > 0, CHECKS[2], f"bytes={nbytes}\n{out}")
        print(f"# iperf peer->guest: {nbytes} bytes, {int(rows[-1][8]) / 1e6 if rows else 0:.0f} Mbit/s")

        rc, out = bed.run("peer", [PEER_TOOL, "send", "--to", f"{GUEST_IP}:7", "--rate", "2000", "--secs", "3",
                                   "--echo", "--grace-ms", "500"], timeout=30)
        m = re.search(r"sent (\d+) received (\d+) unique (\d+) missed (\d+) duplicated (\d+)", out)
        t.ok(rc == 0 and m and m.group(1) == "6000" and m.group(3) == "6000" and m.group(4) == "0"
             and m.group(5) == "0", CHECKS[3], out)

        payload = "compsc tcp echo " * 4000
        rc, out = bed.run("peer", ["python3", "-c",
                                   "import socket,sys\n"
                                   f"d=({payload!r}).encode()\n"
                                   f"s=socket.create_connection(('{GUEST_IP}',7),timeout=10)\n"
                                   "s.sendall(d); s.shutdown(socket.SHUT_WR)\n"
                                   "b=b''\n"
                                   "while len(b)<len(d):\n"
                                   "  x=s.recv(65536)\n"
                                   "  if not x: break\n"
                                   "  b+=x\n"
                                   "print('same' if b==d else f'differ {len(b)}')"], timeout=30)
        t.ok(rc == 0 and "same" in out, CHECKS[4], out)

        rc, out = bed.run("peer", ["ab", "-n", "200", "-c", "4", f"http://{GUEST_IP}/index.html"], timeout=60)
        t.ok(rc == 0 and re.search(r"Complete requests:\s+200", out) and re.search(r"Failed requests:\s+0", out)
             and re.search(r"Document Length:\s+2\d\d bytes", out) and re.search(r"Non-2xx", out) is None,
             CHECKS[5], out)

        rc, out = bed.run("peer", ["ab", "-n", "10", "-c", "2", f"http://{GUEST_IP}/big.bin"], timeout=60)
        t.ok(rc == 0 and re.search(r"Document Length:\s+1048576 bytes", out)
             and re.search(r"Complete requests:\s+10", out) and re.search(r"Failed requests:\s+0", out),
             CHECKS[6], out)
        time.sleep(1.2)
        periodic = [l for l in vm.out if l.startswith("stats periodic")]
        vm.stop()
        t.ok(len(periodic) >= 2 and re.search(r"rx [1-9]\d* pkts", periodic[-1]), CHECKS[7], vm.text())
    finally:
        vm.stop()

    # The guest as a sender: a UDP stream alone (exact counting needs a
    # link that nothing else saturates), then the iperf client.
    recv = subprocess.Popen(bed.ns("peer") + [PEER_TOOL, "recv", "--port", "6000", "--secs", "20",
                                              "--grace-ms", "500"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    vm = Vm(bed, f"ip={GUEST_IP}/24 app=udpsource udpsource=10.0.0.3:6000 rate=2000 secs=3 run-secs=30")
    srv = None
    try:
        status = vm.finish(60)
        out, _ = recv.communicate(timeout=30)
        m = re.search(r"received (\d+) unique (\d+) missed (\d+) duplicated (\d+)", out)
        t.ok(m and m.group(2) == "6000" and m.group(3) == "0" and m.group(4) == "0", CHECKS[8],
             out + vm.text())
        first_ok = status == 0 and "stats final" in "".join(vm.out)
        first_text = vm.text()

        srv = subprocess.Popen(bed.ns("peer") + ["iperf", "-s", "-y", "C"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        vm = Vm(bed, f"ip={GUEST_IP}/24 iperf-client=10.0.0.3 secs=3 run-secs=30")
        status = vm.finish(60)
        time.sleep(0.5)
        srv.terminate()
        sout, _ = srv.communicate(timeout=10)
        rows = [l.split(",") for l in sout.splitlines() if l.count(",") >= 8]
        nbytes = int(rows[-1][7]) if rows else 0
        t.ok(nbytes > 0, CHECKS[9], f"bytes={nbytes}\n{sout}\n{vm.text()}")
        print(f"# iperf guest->peer: {nbytes} bytes")
        iperf_ok = status == 0 and "stats final" in "".join(vm.out)
        iperf_text = vm.text()

        # The peer ignores ARP for a while: lwIP must keep what the stream
        # sends meanwhile (ARP_QUEUEING) and flush it when the reply comes.
        # lwIP re-asks once a second, so ~1.5 s x 25/s stay queued.
        bed.run("peer", ["ip", "link", "set", "eth0", "arp", "off"])
        recv = subprocess.Popen(bed.ns("peer") + [PEER_TOOL, "recv", "--port", "6000", "--secs", "20",
                                                  "--grace-ms", "500"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        vm = Vm(bed, f"ip={GUEST_IP}/24 app=udpsource udpsource=10.0.0.3:6000 rate=25 secs=2 run-secs=30")
        vm.wait_for("udpsource: 50 datagrams", 60)
        time.sleep(0.4)
        bed.run("peer", ["ip", "link", "set", "eth0", "arp", "on"])
        arp_status = vm.finish(60)
        out, _ = recv.communicate(timeout=30)
        m = re.search(r"received (\d+) unique (\d+) missed (\d+) duplicated (\d+)", out)
        t.ok(m and m.group(2) == "50" and m.group(3) == "0" and m.group(4) == "0", CHECKS[10],
             out + vm.text())
        t.ok(first_ok and iperf_ok and arp_status == 0
             and not any("needs reset" in x or "malformed" in x for x in (first_text, iperf_text, vm.text())),
             CHECKS[11], first_text + iperf_text + vm.text())
    finally:
        vm.stop()
        for p in (recv, srv):
            if p and p.poll() is None:
                p.kill()
                p.wait()

t.done()
