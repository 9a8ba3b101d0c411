#!/usr/bin/env python3
"""Live migration between two compsc-vmm on loopback: idle guest there and
back with memory verified by the guest, a dirtying guest (converges, or hits
the round limit and still completes), the compsc command line, the device
registry (state arrives on the destination)."""
import json
import re

from harness import Tap, accel_problem, run_vmm
from miglib import Api, Vmm, run_cli, tmpdir

t = Tap()
CHECKS = [
    "idle VM migrates A -> B with compsc migrate (report: downtime, rounds, stages)",
    "A exits 0 after commitment, saying where the VM went",
    "B: the guest sees generation 1 and verifies all its memory",
    "B keeps running the guest (heartbeat after the move), clock monotonic",
    "VM migrates back B -> C: generation 2, memory verified, B exits 0",
    "destination status answers with state running after activation",
    "dirtying guest (20000 pages/s) converges: pre-copy ends on the downtime budget (precopy-exit), not a limit; "
    "completes, memory verified",
    "dirtying guest with a 1 ms budget stops at max-rounds and still completes",
    "device state travels: testdev value arrives on the destination",
    "a register-only computation moved mid-way ends with the result of an unmoved run",
    "downtime across two clocks: the one-clock figure (both VMMs on this host) lies within the two-clock "
    "bounds, the estimate within max(2 ms, 50%) of it or at worst half the bounds' width, the width < 20 ms",
    "a guest asleep on its wake-up timer (nothing else wakes it) wakes at its deadline on the destination",
]
problem = accel_problem()
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()


def guest_moved(vm, gen, timeout=10):
    return vm.wait_out(rf"memcheck: migrated \(generation {gen}\): (\d+) pages verified, 0 bad", timeout) or \
        vm.wait_out(rf"dirty: migrated \(generation {gen}\): (\d+) pages verified, 0 bad", 0.1)


downtime_ok, downtime_diag = False, "the first migration did not run"
with tmpdir() as tmp:
    a = Vmm(tmp, "a", cmdline="app=memcheck size=32 report-ms=200")
    b = Vmm(tmp, "b", incoming=True)
    c = Vmm(tmp, "c", incoming=True)
    try:
        a.wait_out(r"alive at", 10)
        r = run_cli(["migrate", a.sock, "--to", f"tcp:127.0.0.1:{b.port}", "--json"])
        rep = {}
        try:
            rep = json.loads(r.stdout)
        except ValueError:
            pass
        t.ok(r.returncode == 0 and rep.get("status") == "completed" and rep.get("downtime-ms", 0) > 0
             and len(rep.get("rounds", [])) >= 2 and rep["stage-ms"]["iterative-pre-copy"] > 0
             and rep["transferred-bytes"] > 32 << 20, CHECKS[0], f"{r.stdout}\n{r.stderr}\n{a.log()}{b.log()}")
        two, one = rep.get("downtime-ms"), rep.get("downtime-same-clock-ms")
        lo, hi = (rep.get("downtime-bounds-ms") or [None, None])[:2]
        print(f"# downtime: two clocks {two} ms (bounds {lo} .. {hi}), one clock {one} ms")
        # The estimate assumes COMMIT's way and ACTIVATED's way back take
        # as long; its error is at most half the bounds' width, which a
        # loaded machine (a sanitizer build) widens on the way back.
        downtime_ok = (None not in (two, one, lo, hi) and lo <= two <= hi and lo <= one <= hi
                       and abs(two - one) <= max(2.0, 0.5 * one, (hi - lo) / 2) and hi - lo < 20)
        downtime_diag = f"{r.stdout}\n{a.log()}{b.log()}"
        rc = a.wait_exit(10)
        t.ok(rc == 0 and a.wait_err(rf"the VM now runs at tcp:127.0.0.1:{b.port}", 1), CHECKS[1], a.log())
        m = guest_moved(b, 1)
        t.ok(m and int(m.group(1)) == 8192, CHECKS[2], b.log())
        t.ok(b.alive_after(5) and not b.wait_out("clock went backwards", 0.1)
             and not a.wait_out("clock went backwards", 0.1), CHECKS[3], b.log())
        st = Api(b.sock).cmd("status")["return"]
        r = run_cli(["migrate", b.sock, "--to", f"tcp:127.0.0.1:{c.port}"])
        m = guest_moved(c, 2)
        t.ok(r.returncode == 0 and "downtime" in r.stdout and "time per stage" in r.stdout and m
             and b.wait_exit(10) == 0 and c.alive_after(5), CHECKS[4], f"{r.stdout}\n{r.stderr}\n{b.log()}{c.log()}")
        t.ok(st["state"] == "running" and st["migration"]["status"] == "completed"
             and st["migration"]["stage"] == "activation", CHECKS[5], st)
    finally:
        for v in (a, b, c):
            v.stop()

    # A guest that keeps dirtying memory while it is copied.
    a = Vmm(tmp, "d1", cmdline="app=dirty rate=20000 size=48 report-ms=200")
    b = Vmm(tmp, "d2", incoming=True)
    try:
        a.wait_out(r"alive at", 10)
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}", **{"downtime-ms": 300})
        fin = api.wait_final(60)
        ok = fin and fin["status"] == "completed"
        m = b.wait_out(r"dirty: migrated \(generation 1\): \d+ pages verified, 0 bad", 10)
        budget = "remaining data fits the downtime budget"
        t.ok(ok and m and b.alive_after(5) and fin["rounds"][1]["pages"] > 0 and fin.get("precopy-exit") == budget
             and a.wait_err(r"pre-copy ends after round \d+: " + budget, 1), CHECKS[6],
             f"{fin}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

    a = Vmm(tmp, "e1", cmdline="app=dirty rate=50000 size=48 report-ms=200")
    b = Vmm(tmp, "e2", incoming=True)
    try:
        a.wait_out(r"alive at", 10)
        api = Api(a.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}", **{"downtime-ms": 1, "max-rounds": 3,
                                                              "bandwidth": "200M"})
        fin = api.wait_final(60)
        m = b.wait_out(r"dirty: migrated \(generation 1\): \d+ pages verified, 0 bad", 10)
        t.ok(fin and fin["status"] == "completed" and len(fin["rounds"]) == 5 and m
             and fin.get("precopy-exit") == "round limit"
             and a.wait_err(r"pre-copy ends after round 3: round limit", 1), CHECKS[7],
             f"{fin}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

    a = Vmm(tmp, "f1", extra=["--test-device", "4242"])
    b = Vmm(tmp, "f2", incoming=True, extra=["--test-device", "0"])
    try:
        a.wait_out(r"alive at", 10)
        api = Api(a.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(30)
        t.ok(fin and fin["status"] == "completed" and b.wait_err(r"testdev: value 4242 arrived", 5)
             and guest_moved(b, 1), CHECKS[8], f"{fin}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

    # vCPU state round trip: the same computation, once in place and once
    # moved A -> B while it runs, must give the same result bit for bit.
    steps = 300000000
    ref = run_vmm(f"app=compute steps={steps} report-ms=100", timeout=120)
    m_ref = re.search(r"compute: result ([0-9a-f]{16})", ref.stdout)
    a = Vmm(tmp, "g1", cmdline=f"app=compute steps={steps} report-ms=100")
    b = Vmm(tmp, "g2", incoming=True)
    try:
        a.wait_out(r"steps done", 20)
        api = Api(a.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(60)
        m = b.wait_out(r"compute: result ([0-9a-f]{16})", 60)
        t.ok(m_ref and fin and fin["status"] == "completed" and m and m.group(1) == m_ref.group(1)
             and not a.wait_out(r"compute: result", 0.1), CHECKS[9],
             f"reference {ref}\n{fin}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

    # The timer the guest armed stays on A; B's "you moved" interrupt must
    # make the guest's runtime arm it again (guest/rt/wake.c).
    a = Vmm(tmp, "s1", cmdline="app=sleep ms=3000")
    b = Vmm(tmp, "s2", incoming=True)
    try:
        a.wait_out(r"sleep: 3000 ms", 10)
        api = Api(a.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(30)
        m = b.wait_out(r"sleep: woke at (\d+) ms", 15)
        t.ok(fin and fin["status"] == "completed" and m and 3000 <= int(m.group(1)) < 4500
             and b.wait_exit(5) == 0, CHECKS[11], f"{fin}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

t.ok(downtime_ok, CHECKS[10], downtime_diag)

# Network traffic during migration (UDP sequence stream, iperf) needs the
# virtio-net branch: the hook is the MIGRATED generation the guest sees
# (gratuitous ARP on activation); tests arrive with that merge.
t.done()
