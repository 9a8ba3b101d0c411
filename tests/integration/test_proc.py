#!/usr/bin/env python3
"""The proc accelerator's own guarantees (the rest of the suite runs under it
too): the sandbox refuses system calls, a killed guest process is noticed, a
killed VMM takes its guest process along, and a VM does not move between
accelerators (that one needs /dev/kvm as well)."""
import json
import os
import re
import signal
import subprocess
import time

from harness import Tap, kvm_problem, proc_problem, run_vmm
from miglib import Api, Vmm, run_cli, tmpdir

t = Tap()
CHECKS = [
    "a system call from the guest: guest fault with registers, exit 1",
    "guest process killed with SIGKILL: reported, VMM exits 1 within 5 s",
    "VMM killed with SIGKILL: its guest process dies with it",
    "proc -> kvm migration refused at reservation, source keeps running",
]
os.environ["COMPSC_ACCEL"] = "proc"
problem = proc_problem()
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()


def children(pid):
    """The compsc-vcpu-proc processes whose parent is pid."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(l.split()[0]) for l in out.splitlines() if "compsc-vcpu" in l]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


r = run_vmm("app=fault kind=syscall", timeout=30)
t.ok(r.returncode == 1 and "guest fault: forbidden system call 39" in r.stderr
     and re.search(r"rip [0-9a-f]{16}", r.stderr) and "getpid returned" not in r.stdout, CHECKS[0], r)

with tmpdir() as tmp:
    a = Vmm(tmp, "k1", cmdline="app=memcheck size=8 report-ms=100")
    try:
        a.wait_out(r"alive at", 10)
        kids = children(a.p.pid)
        if kids:
            os.kill(kids[0], signal.SIGKILL)
        rc = a.wait_exit(5)
        t.ok(len(kids) == 1 and rc == 1 and a.wait_err(r"guest process \(pid \d+\) was killed by signal 9", 1),
             CHECKS[1], f"children {kids}\n{a.log()}")
    finally:
        a.stop()

    a = Vmm(tmp, "k2", cmdline="app=memcheck size=8 report-ms=100")
    try:
        a.wait_out(r"alive at", 10)
        kids = children(a.p.pid)
        a.kill()
        deadline = time.time() + 5
        while kids and alive(kids[0]) and time.time() < deadline:
            time.sleep(0.05)
        t.ok(len(kids) == 1 and not alive(kids[0]), CHECKS[2], f"children {kids}")
    finally:
        a.stop()

    if kvm_problem():
        t.skip(CHECKS[3], kvm_problem(), kvm_specific=True)
    else:
        a = Vmm(tmp, "x1", cmdline="app=memcheck size=8 report-ms=100")
        os.environ["COMPSC_ACCEL"] = "kvm"
        b = Vmm(tmp, "x2", incoming=True)
        os.environ["COMPSC_ACCEL"] = "proc"
        try:
            a.wait_out(r"alive at", 10)
            r = run_cli(["migrate", a.sock, "--to", f"tcp:127.0.0.1:{b.port}", "--json"])
            rep = {}
            try:
                rep = json.loads(r.stdout)
            except ValueError:
                pass
            st = Api(a.sock).cmd("status")["return"]
            t.ok(r.returncode != 0 and rep.get("stage") == "reservation"
                 and "under the proc accelerator and this VMM under kvm" in (rep.get("error") or "")
                 and st["state"] == "running" and a.alive_after(3), CHECKS[3],
                 f"{r.stdout}\n{r.stderr}\n{st}\n{a.log()}{b.log()}")
        finally:
            a.stop()
            b.stop()
t.done()
