#!/usr/bin/env python3
"""CompSC's failure rule: when the migration of a VM with a VF fails before
commitment, the source keeps running with a working VF. The hostile or
stuck guest is played from the host, through the VMM's guest-RAM memfd
(/proc/PID/fd), at the address the driver registered:
  - the shared area scribbled (bad magic): the VMM's validation refuses it;
  - readers that never leave (readers = 1000): the bounded write lock gives up;
  - the destination's VF already in use: the destination cannot take it.
After COMMIT: the destination killed the moment COMMIT is in
(COMPSC_TEST_FAULT=die-after-commit): the outcome is unknown, the source
keeps its VF stopped (no answer) until migrate-resolve resume-here gives
it back."""
import os
import re
import subprocess
import tempfile
import time

from harness import Tap, accel_problem, problems
from miglib import COMPSC, Api
from netbed import HostNic, Testbed, Vm, root_problem

t = Tap()
CHECKS = [
    "a scribbled shared area: the migration fails with the reason, the source answers ping over its VF",
    "a driver that never leaves its op set: the write lock gives up (bounded), the source answers ping",
    "the destination's VF is already in use: the migration fails, the source answers ping over its VF",
    "destination killed after COMMIT: outcome unknown, the source's VF held: attached, stopped, no ping answer",
    "...migrate-resolve resume-here: the source answers ping over its VF again, 0% loss",
]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

IP = "10.0.0.10"


def ram_fd_path(pid):
    """The VMM's guest-RAM memfd, as /proc/PID/fd/N."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "compsc-guest-ram" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                return f"/proc/{pid}/fd/{fd}"
        except OSError:
            pass
    return None


def area_gpa(vm):
    line = vm.wait_for("CompSC shared area at", timeout=10, stream="err")
    m = re.search(r"shared area at 0x([0-9a-f]+)", line or "")
    return int(m.group(1), 16) if m else None


def poke(vm, offset, data):
    """Writes bytes into the guest's RAM at the shared area + offset."""
    gpa = area_gpa(vm)
    path = ram_fd_path(vm.proc.pid)
    if gpa is None or path is None:
        return False
    with open(path, "r+b", buffering=0) as f:
        f.seek(gpa + offset)
        f.write(data)
    return True


def attempt(bed, nic_a, nic_b, tmp, name, port, sabotage, dst_vf=0):
    """A VF VM on host A, an incoming VMM on host B; sabotage(src, dst),
    migrate, then: the migration failed and the source answers ping."""
    src_sock, dst_sock = os.path.join(tmp, f"{name}-a.sock"), os.path.join(tmp, f"{name}-b.sock")
    # The NIC frees a VF when it sees the previous VMM's connection close:
    # wait until host A's VF 0 has no VMM before attaching a new one.
    end = time.monotonic() + 10
    while time.monotonic() < end and nic_a.ctl("list")["vfs"][0].get("vmm_connected"):
        time.sleep(0.05)
    src = Vm(bed, f"app=echo ip={IP}/24 gw=10.0.0.1", host="hostA", tap=None, vf=nic_a.vf(0),
             extra=["--api", src_sock])
    dst = Vm(bed, "", host="hostB", tap=None, vf=nic_b.vf(dst_vf),
             extra=["--api", dst_sock, "--incoming", f"tcp:10.0.0.2:{port}"])
    try:
        src.wait_for("net: ready")
        end = time.monotonic() + 10
        while time.monotonic() < end and dst.proc.poll() is None and not any("listening" in l for l in dst.err):
            time.sleep(0.02)
        sabotaged = sabotage(src, dst)
        r = subprocess.run([COMPSC, "migrate", src_sock, "--to", f"tcp:10.0.0.2:{port}"], capture_output=True,
                           text=True, timeout=60)
        rc, out = bed.run("peer", ["ping", "-c", "5", "-i", "0.2", "-W", "2", IP])
        try:
            st = Api(src_sock).cmd("status").get("return", {})
        except OSError as e:
            st = {"error": str(e)}
        ok = (sabotaged and r.returncode != 0 and rc == 0 and " 0% packet loss" in out and src.proc.poll() is None
              and st.get("state") == "running")
        return ok, r.stdout + r.stderr, f"{r.stdout}{r.stderr}\n{out}\n{src.text()}\n{dst.text()}"
    finally:
        src.stop()
        dst.stop()


def unknown_then_resume(bed, nic_a, nic_b, tmp, port):
    """A VF VM migrates to a destination that dies right after COMMIT:
    while the outcome is unknown the VM is paused and its VF held (still
    attached, queues stopped, ping unanswered); after resume-here the VF
    runs again and the VM answers ping."""
    src_sock = os.path.join(tmp, "unknown-a.sock")
    end = time.monotonic() + 10
    while time.monotonic() < end and nic_a.ctl("list")["vfs"][0].get("vmm_connected"):
        time.sleep(0.05)
    src = Vm(bed, f"app=echo ip={IP}/24 gw=10.0.0.1", host="hostA", tap=None, vf=nic_a.vf(0),
             extra=["--api", src_sock])
    dst = Vm(bed, "", host="hostB", tap=None, vf=nic_b.vf(0), env={"COMPSC_TEST_FAULT": "die-after-commit"},
             extra=["--api", os.path.join(tmp, "unknown-b.sock"), "--incoming", f"tcp:10.0.0.2:{port}"])
    try:
        src.wait_for("net: ready")
        end = time.monotonic() + 10
        while time.monotonic() < end and dst.proc.poll() is None and not any("listening" in l for l in dst.err):
            time.sleep(0.02)
        r = subprocess.run([COMPSC, "migrate", src_sock, "--to", f"tcp:10.0.0.2:{port}"], capture_output=True,
                           text=True, timeout=60)
        rc_held, out_held = bed.run("peer", ["ping", "-c", "3", "-i", "0.2", "-W", "1", IP])
        vf_held = nic_a.ctl("list")["vfs"][0]
        try:
            st = Api(src_sock).cmd("status").get("return", {})
        except OSError as e:
            st = {"error": str(e)}
        # Held, not released: still this VMM's, its queues stopped by the PF.
        held = (r.returncode == 3 and "OUTCOME UNKNOWN" in r.stdout and rc_held != 0 and src.proc.poll() is None
                and st.get("state") == "outcome-unknown" and dst.finish(10) == -9
                and vf_held.get("vmm_connected") is True and vf_held.get("queues_enabled") is False)
        res = subprocess.run([COMPSC, "migrate-resolve", src_sock, "resume-here"], capture_output=True, text=True,
                             timeout=30)
        rc, out = bed.run("peer", ["ping", "-c", "5", "-i", "0.2", "-W", "2", IP])
        vf_back = nic_a.ctl("list")["vfs"][0]
        try:
            st2 = Api(src_sock).cmd("status").get("return", {})
        except OSError as e:
            st2 = {"error": str(e)}
        back = (res.returncode == 0 and rc == 0 and " 0% packet loss" in out and src.proc.poll() is None
                and st2.get("state") == "running" and vf_back.get("queues_enabled") is True)
        d = (f"migrate exit {r.returncode}\n{r.stdout}{r.stderr}\nheld ping {rc_held}\n{out_held}\nstatus {st}\n"
             f"VF while unknown {vf_held}\nVF after {vf_back}\n"
             f"resolve {res.returncode} {res.stdout}{res.stderr}\nping {rc}\n{out}\nstatus {st2}\n"
             f"{src.text()}\n{dst.text()}")
        return held, back, d
    finally:
        src.stop()
        dst.stop()


with tempfile.TemporaryDirectory() as tmp, Testbed("cscfault") as bed, \
        HostNic(bed, "hostA") as nic_a, HostNic(bed, "hostB") as nic_b:
    ok, msg, diag = attempt(bed, nic_a, nic_b, tmp, "scribble", 4600,
                            lambda src, dst: poke(src, 0, b"\xde\xad\xbe\xef"))
    t.ok(ok and "shared area is invalid" in diag, CHECKS[0], diag)
    ok, msg, diag = attempt(bed, nic_a, nic_b, tmp, "stuck", 4601,
                            # far above what the driver's own lock/unlock
                            # (concurrent with the write) can bring back to 0
                            lambda src, dst: poke(src, 0x10, (1000).to_bytes(4, "little")))
    t.ok(ok and "did not leave its operation set" in msg, CHECKS[1], diag)

    # A VMM already drives host B's VF 1: the destination asks for it too.
    holder = Vm(bed, "app=spin", host="hostB", tap=None, vf=nic_b.vf(1))
    try:
        time.sleep(1)
        ok, msg, diag = attempt(bed, nic_a, nic_b, tmp, "busy", 4602, lambda src, dst: True, dst_vf=1)
        t.ok(ok and holder.proc.poll() is None, CHECKS[2], diag)
    finally:
        holder.stop()
    held, back, diag = unknown_then_resume(bed, nic_a, nic_b, tmp, 4603)
    t.ok(held, CHECKS[3], diag)
    t.ok(held and back, CHECKS[4], diag)
t.done()
