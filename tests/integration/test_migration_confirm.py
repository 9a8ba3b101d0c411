#!/usr/bin/env python3
"""The commit window (docs/migration-stream.md, "Commitment and confirm"):
at every instant exactly one side may run the VM. After COMMIT the source
lets go only on the destination's ACTIVATED, takes the VM back on its
explicit ERROR, and otherwise reports "outcome unknown": paused, devices
held, until the orchestrator says resume-here or destination-running.

The destination's faults come from COMPSC_TEST_FAULT (builds with
-Dtest_faults, the default): die-after-commit (SIGKILL as soon as COMMIT is
in: the VM never ran there), drop-activated (the VM runs there, the
connection is cut instead of ACTIVATED), refuse-after-commit (ERROR
instead of running)."""
import re

from harness import Tap, accel_problem
from miglib import Api, Vmm, run_cli, tmpdir

t = Tap()
CHECKS = [
    "destination killed right after COMMIT: the source reports outcome-unknown (query-migrate, status)",
    "...and stays paused (no guest progress), resume and migrate-cancel refused",
    "...migrate-resolve resume-here: the VM runs here again (guest progress), resolution reported",
    "compsc migrate: destination killed after COMMIT prints OUTCOME UNKNOWN with what to do, exit status 3",
    "compsc migrate-resolve destination-running: the source exits 0 and says the destination runs the VM",
    "ACTIVATED lost while the destination runs: the source reports outcome-unknown, paused, the destination runs",
    "...resolved destination-running: the source exits 0, exactly one VM runs (the destination)",
    "migrate-resolve with nothing to resolve is refused with a clear error; a bad outcome too",
    "destination refuses after COMMIT (ERROR): the source takes the VM back by itself, running",
    "migrate-resolve after a migration that failed by itself is refused",
]
problem = accel_problem()
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

SRC_CMD = "app=memcheck size=16 report-ms=200"


def pair(tmp, name, fault):
    a = Vmm(tmp, name + "-src", cmdline=SRC_CMD)
    b = Vmm(tmp, name + "-dst", incoming=True, env={"COMPSC_TEST_FAULT": fault})
    a.wait_out(r"alive at", 10)
    return a, b


class Ctl:
    """A control-socket client whose commands never raise: a VMM that
    exited (as today's source does after COMMIT) is an error reply."""

    def __init__(self, path):
        self.path, self.api = path, None

    def cmd(self, name, **args):
        try:
            if self.api is None:
                self.api = Api(self.path)
            return self.api.cmd(name, **args)
        except (OSError, EOFError, ValueError) as e:
            self.api = None
            return {"error": {"class": "gone", "desc": f"control socket: {e}"}}


def diag(*parts):
    return "\n".join(p if isinstance(p, str) else p.log() for p in parts)


with tmpdir() as tmp:
    # (a) The destination dies right after COMMIT, before it runs the VM.
    a, b = pair(tmp, "die", "die-after-commit")
    try:
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(40)
        rc = b.wait_exit(10)
        q = Ctl(a.sock)
        st = q.cmd("status").get("return", {})
        qm = q.cmd("query-migrate").get("return", {})
        t.ok(rep == {"return": {}} and fin is not None and fin["status"] == "outcome-unknown"
             and "COMMIT sent" in fin.get("error", "") and rc == -9 and a.p.poll() is None
             and st.get("state") == "outcome-unknown" and qm.get("status") == "outcome-unknown"
             and a.wait_err(r"OUTCOME UNKNOWN", 1) is not None,
             CHECKS[0], diag(f"reply {rep}\nfinal {fin}\nstatus {st}\nquery {qm}\ndst rc {rc}", a, b))
        paused = not a.alive_after(1.5)
        r_res = q.cmd("resume")
        r_can = q.cmd("migrate-cancel")
        r_mig = q.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port or 1}")
        t.ok(paused and a.p.poll() is None and "error" in r_res and "outcome-unknown" in r_res["error"]["desc"]
             and "error" in r_can and "migrate-resolve" in r_can["error"]["desc"] and "error" in r_mig
             and not a.alive_after(0.5),
             CHECKS[1], diag(f"paused {paused}\nresume {r_res}\ncancel {r_can}\nmigrate {r_mig}", a))
        r = q.cmd("migrate-resolve", outcome="resume-here")
        st = q.cmd("status").get("return", {})
        qm = q.cmd("query-migrate").get("return", {})
        t.ok(r == {"return": {}} and st.get("state") == "running" and a.alive_after(5)
             and qm.get("status") == "failed" and qm.get("resolution") == "resume-here"
             and a.wait_err(r"resolved: resume here", 1) is not None and a.p.poll() is None,
             CHECKS[2], diag(f"resolve {r}\nstatus {st}\nquery {qm}", a))
    finally:
        a.stop()
        b.stop()

    # (b) The same through the compsc command line, resolved the other way.
    a, b = pair(tmp, "cli", "die-after-commit")
    try:
        r = run_cli(["migrate", a.sock, "--to", f"tcp:127.0.0.1:{b.port}"])
        rc = b.wait_exit(10)
        t.ok(r.returncode == 3 and "OUTCOME UNKNOWN" in r.stdout
             and f"compsc migrate-resolve {a.sock} destination-running" in r.stdout
             and f"compsc migrate-resolve {a.sock} resume-here" in r.stdout and rc == -9 and a.p.poll() is None,
             CHECKS[3], diag(f"exit {r.returncode}\n{r.stdout}\n{r.stderr}", a, b))
        r = run_cli(["migrate-resolve", a.sock, "destination-running"])
        rc = a.wait_exit(10)
        t.ok(r.returncode == 0 and "the destination runs the VM" in r.stdout and rc == 0
             and a.wait_err(r"resolved: the destination runs the VM", 1) is not None,
             CHECKS[4], diag(f"exit {r.returncode}\n{r.stdout}\n{r.stderr}\nsource rc {rc}", a))
    finally:
        a.stop()
        b.stop()

    # (c) The destination runs the VM, but its ACTIVATED never arrives.
    a, b = pair(tmp, "drop", "drop-activated")
    try:
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(40)
        dst_runs = b.wait_out(r"memcheck: migrated \(generation 1\): \d+ pages verified, 0 bad", 10) is not None
        st = Ctl(a.sock).cmd("status").get("return", {})
        # While unknown: the destination's guest makes progress, the source's does not.
        only_dst = b.alive_after(5) and not a.alive_after(1.5)
        dst_st = Ctl(b.sock).cmd("status").get("return", {})
        t.ok(rep == {"return": {}} and fin is not None and fin["status"] == "outcome-unknown" and dst_runs
             and only_dst and st.get("state") == "outcome-unknown" and dst_st.get("state") == "running"
             and a.p.poll() is None,
             CHECKS[5], diag(f"final {fin}\nsource {st}\ndestination {dst_st}\nonly dst {only_dst}", a, b))
        # The orchestrator asked the destination (running): it says so here.
        r = Ctl(a.sock).cmd("migrate-resolve", outcome="destination-running")
        rc = a.wait_exit(10)
        t.ok(r == {"return": {}} and rc == 0 and b.p.poll() is None and b.alive_after(5),
             CHECKS[6], diag(f"resolve {r}\nsource rc {rc}", a, b))
    finally:
        a.stop()
        b.stop()

    # (d) Nothing to resolve.
    a = Vmm(tmp, "none", cmdline=SRC_CMD)
    try:
        q = Ctl(a.sock)
        r = q.cmd("migrate-resolve", outcome="resume-here")
        r2 = q.cmd("migrate-resolve", outcome="maybe")
        r3 = run_cli(["migrate-resolve", a.sock, "destination-running"])
        st = q.cmd("status").get("return", {})
        t.ok("error" in r and "no migration awaits a resolution" in r["error"]["desc"]
             and "error" in r2 and "resume-here" in r2["error"]["desc"]
             and r3.returncode == 1 and "no migration awaits a resolution" in r3.stderr
             and st.get("state") == "running" and a.alive_after(5),
             CHECKS[7], diag(f"{r}\n{r2}\nexit {r3.returncode} {r3.stderr}\n{st}", a))
    finally:
        a.stop()

    # (e) An explicit refusal after COMMIT: the source resumes on its own.
    a, b = pair(tmp, "refuse", "refuse-after-commit")
    try:
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin = api.wait_final(40)
        rc = b.wait_exit(10)
        q = Ctl(a.sock)
        st = q.cmd("status").get("return", {})
        t.ok(rep == {"return": {}} and fin is not None and fin["status"] == "failed"
             and "refused to run the VM after COMMIT" in fin.get("error", "") and fin.get("failed-stage") == "activation"
             and rc == 4 and b.wait_err(r"incoming migration failed during activation: refused", 1) is not None
             and st.get("state") == "running" and a.alive_after(5),
             CHECKS[8], diag(f"final {fin}\nstatus {st}\ndst rc {rc}", a, b))
        r = q.cmd("migrate-resolve", outcome="resume-here")
        t.ok("error" in r and "no migration awaits a resolution" in r["error"]["desc"], CHECKS[9], r)
    finally:
        a.stop()
        b.stop()

t.done()
