#!/usr/bin/env python3
"""The fault matrix: a VM driving its VF with CompSC migrates host A ->
host B while one fault strikes at one stage; for every stage x fault, who
runs the VM afterwards, how long until it runs again, whether the guest's
TCP connection survived, and how many datagrams of a UDP echo stream were
lost. Writes bench/results/faults-ACCEL.md and .csv (COMPSC_RESULTS_DIR to
change). Needs root.

Stages: pre-migration, reservation, pre-copy round 0, pre-copy round 1,
stop-and-copy, commitment (the source holds each 1.5 s with the engine's
stall injection, and the fault strikes in that window), and confirm (the
destination runs the VM and holds ACTIVATED 1.5 s: COMPSC_TEST_FAULT=
delay-activated).

Faults: the destination killed (SIGKILL); the source's network cut (the
migration's TCP connection reset); the destination stalls (SIGSTOP; the
orchestrator kills it later if it must); the stream corrupted (a bit
flipped towards the destination, or towards the source in confirm); the
stream forged by a third party (well-formed records with valid CRCs:
COMMIT to the destination, READY and ERROR to the source); the destination
has no free VF (its VF held by another VMM: reservation only).

The orchestrator here does what an orchestrator must: a failed migration
needs nothing; "outcome unknown" is resolved - destination-running when
the destination's VMM answers and runs the VM, else the destination is
fenced (killed) and the source told resume-here.

Recovery time: from the fault (or the end of the injected stall, when the
source could only notice then) until a VM runs again - the source resumed,
or the destination running.

COMPSC_FAULTS_QUICK=1 runs a handful of cells (the test does)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import migrun  # noqa: E402
from miglib import Api  # noqa: E402

ACCEL = os.environ.get("COMPSC_ACCEL") or "auto"
QUICK = os.environ.get("COMPSC_FAULTS_QUICK") == "1"
OUT = os.environ.get("COMPSC_RESULTS_DIR") or os.path.join(HERE, "results")
# The injected stall, the window in which each fault strikes: shorter
# where the VM is paused meanwhile (stop-and-copy, commitment), so the
# stall itself costs the guest little.
STALL_MS = {"stop-and-copy": 300, "commitment": 300}
STALL_MS_DEFAULT = 1500
IP = migrun.IP

# (label, stall-stage, stall-round); confirm uses the destination's knob.
STAGES = [("pre-migration", "pre-migration", 0), ("reservation", "reservation", 0),
          ("pre-copy round 0", "iterative-pre-copy", 0), ("pre-copy round 1", "iterative-pre-copy", 1),
          ("stop-and-copy", "stop-and-copy", 0), ("commitment", "commitment", 0), ("confirm", None, 0)]
FAULTS = ["destination killed", "source network cut", "destination stalls", "stream corrupted",
          "stream forged", "no free VF"]
QUICK_CELLS = [("pre-copy round 1", "source network cut"), ("stop-and-copy", "destination killed"),
               ("commitment", "stream forged"), ("confirm", "destination killed"),
               ("reservation", "no free VF"), ("pre-migration", "destination stalls")]


def progress(text):
    print(f"faults [{ACCEL}] {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def vm_state(api_path):
    """The VM's state from its control socket, or None (no answer): one
    attempt, as an orchestrator polling many VMs would make."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(api_path)
        f = s.makefile("rwb")
        f.readline()	# greeting
        f.write(b'{"execute": "status"}\n')
        f.flush()
        while True:
            m = json.loads(f.readline())
            if "event" not in m:
                s.close()
                return m.get("return", {}).get("state")
    except (OSError, ValueError):
        return None


def cell(bed, stage, fault):
    label, stall_stage, stall_round = stage
    secs = 8
    holder = None
    bed.next_run()
    src = bed.vm("compsc", "hostA", f"app=echo,memload ip={IP}/24 gw=10.0.0.1 fill-mib=16 dirty-rate=3000",
                 mem="256M")
    if fault == "no free VF":
        holder = migrun.Vm(bed.bed, "app=spin", host="hostB", tap=None, vf=bed.nic["hostB"].vf(bed.vf_index))
        time.sleep(0.5)
    dst = bed.incoming("compsc", "hostB", mem="256M",
                       env={"COMPSC_TEST_FAULT": "delay-activated"} if stall_stage is None else None)
    dst_api = dst.api
    bed.port += 1	# the proxy's, in front of the destination
    pport = bed.port
    proxy = subprocess.Popen(bed.bed.ns("hostA") + [sys.executable, os.path.join(HERE, "lib", "faultproxy.py"),
                                                    f"10.0.0.1:{pport}", dst.uri[len("tcp:"):]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    res = {"stage": label, "fault": fault}
    procs = [src, dst] + ([holder] if holder else [])
    try:
        proxy.stdout.readline()
        if not bed.guest_up(src):
            res["error"] = "source guest did not come up"
            return res
        echo_json = bed.path("echo.json")
        udp = bed.peer_popen([migrun.PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", "1000", "--secs", str(secs),
                              "--echo", "--grace-ms", "800", "--json", echo_json])
        tcp = bed.peer_popen([sys.executable, os.path.join(HERE, "lib", "tcpecho.py"), IP, str(secs)])
        time.sleep(1.0)
        api = Api(src.api)
        stall_ms = STALL_MS.get(stall_stage, STALL_MS_DEFAULT)
        # A downtime budget no round meets and three rounds at most: round
        # 1 always happens, and the migration still ends.
        args = {"uri": f"tcp:10.0.0.1:{pport}", "timeout-ms": 800, "bandwidth": "64M", "downtime-ms": 1,
                "max-rounds": 3}
        if stall_stage:
            args.update({"stall-stage": stall_stage, "stall-ms": stall_ms, "stall-round": stall_round})
        else:
            args["timeout-ms"] = 3000	# longer than the destination holds ACTIVATED
        rep = api.cmd("migrate", **args)
        t_start = time.monotonic()
        if "error" in rep:
            res["error"] = f"migrate refused: {rep['error']}"
            return res
        # The window: the source stalls in the stage (log line), or the
        # destination holds ACTIVATED (its log line).
        window = (lambda: any("stalling" in l for l in src.err)) if stall_stage else \
                 (lambda: any("ACTIVATED waits" in l for l in dst.err))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not window() and fault != "no free VF":
            time.sleep(0.005)
        if fault != "no free VF" and not window():
            res["error"] = "the stage's fault window never came"
        t_fault = time.monotonic()
        stall_end = t_fault + stall_ms / 1000 if stall_stage else t_fault
        if fault == "destination killed":
            os.kill(dst.proc.pid, signal.SIGKILL)
        elif fault == "destination stalls":
            os.kill(dst.proc.pid, signal.SIGSTOP)
        elif fault in ("source network cut", "stream corrupted", "stream forged"):
            cmd = {"source network cut": "cut", "stream forged": "forge",
                   "stream corrupted": "corrupt-back" if stall_stage is None else "corrupt"}[fault]
            proxy.stdin.write(cmd + "\n")
            proxy.stdin.flush()
        final = api.wait_final(timeout=30)
        status = final["status"] if final else "no answer"
        res["migration"] = status
        res["error_text"] = (final or {}).get("error", "")
        if fault == "no free VF":
            why = [l for l in dst.err if "--vf" in l or "VF" in l]
            res["error_text"] = f"the destination VMM: {why[-1].strip()}" if why else res["error_text"]
        # The orchestrator.
        resolved = ""
        if status == "outcome-unknown":
            if dst.proc.poll() is None:
                try:
                    os.kill(dst.proc.pid, signal.SIGCONT) if fault == "destination stalls" else None
                except OSError:
                    pass
            dst_state = vm_state(dst_api) if fault != "destination stalls" else None
            res["dst_state"] = dst_state
            res["dst_alive"] = dst.proc.poll() is None
            if dst_state == "running":
                resolved = "destination-running"
            else:
                dst.kill()
                resolved = "resume-here"
            try:
                api.cmd("migrate-resolve", outcome=resolved)
            except (OSError, EOFError):
                pass
        res["resolved"] = resolved
        if fault == "destination stalls" and dst.proc.poll() is None and status != "completed":
            dst.kill()	# fenced: a stopped process never runs the VM
        # Who runs the VM, and since when.
        t_run = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s_st = vm_state(src.api) if src.proc.poll() is None else None
            d_st = vm_state(dst_api) if dst.proc.poll() is None else None
            if s_st == "running" or d_st == "running":
                t_run = time.monotonic()
                break
            time.sleep(0.01)
        time.sleep(0.5)
        s_st = vm_state(src.api) if src.proc.poll() is None else None
        d_st = vm_state(dst_api) if dst.proc.poll() is None else None
        runs = [n for n, st in (("source", s_st), ("destination", d_st)) if st == "running"]
        res["runs"] = " + ".join(runs) if runs else "none"
        res["recovery_ms"] = (t_run - max(t_fault, stall_end)) * 1000 if t_run else None
        if t_run and t_run < stall_end:
            res["recovery_ms"] = 0.0
        res["total_ms"] = (time.monotonic() - t_start) * 1000
        tout = migrun.finish(tcp, time.monotonic() + secs + 10)
        migrun.finish(udp, time.monotonic() + secs + 10)
        try:
            res["tcp"] = json.loads(tout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res["tcp"] = {}
        try:
            with open(echo_json) as f:
                res["udp"] = json.load(f)
        except (OSError, ValueError):
            res["udp"] = {}
        api.close()
        return res
    finally:
        try:
            os.kill(dst.proc.pid, signal.SIGCONT)
        except OSError:
            pass
        try:
            proxy.stdin.write("quit\n")
            proxy.stdin.flush()
        except OSError:
            pass
        proxy.kill()
        for p in procs:
            p.stop()


def tcp_survived(r):
    t = r.get("tcp", {})
    return t.get("connected") and not t.get("reset") and not t.get("closed") and \
        t.get("echoed", 0) >= t.get("sent", 1) - 2


def main():
    why = migrun.problem()
    if why:
        print(f"bench faults: skipped: {why}")
        return 0
    os.makedirs(OUT, exist_ok=True)
    cells = [(s, f) for s in STAGES for f in FAULTS if f != "no free VF" or s[0] == "reservation"]
    if QUICK:
        cells = [(s, f) for s, f in cells if (s[0], f) in QUICK_CELLS]
    only = os.environ.get("COMPSC_FAULTS_CELLS")	# "stage:fault;stage:fault", to rerun some
    if only:
        want = {tuple(c.split(":", 1)) for c in only.split(";")}
        cells = [(s, f) for s, f in cells if (s[0], f) in want]
    results = []
    with migrun.Bed("bflt") as bed:
        for stage, fault in cells:
            progress(f"{stage[0]} x {fault}")
            r = cell(bed, stage, fault)
            results.append(r)
            progress(f"  -> migration {r.get('migration')}, {r.get('resolved') or 'no resolution needed'} "
                     f"(destination state {r.get('dst_state')}), "
                     f"VM runs on: {r.get('runs')}, recovery {r.get('recovery_ms')}"
                     + (f", ERROR {r['error']}" if r.get("error") else ""))
    rows = []
    for r in results:
        u = r.get("udp", {})
        rows.append([r["stage"], r["fault"], r.get("migration", "-"), r.get("resolved") or "-", r.get("runs", "-"),
                     f"{r['recovery_ms']:.0f}" if r.get("recovery_ms") is not None else "-",
                     "yes" if tcp_survived(r) else "no", u.get("missed", "-"), u.get("duplicated", "-"),
                     (r.get("error") or r.get("error_text") or "").replace("|", "/").replace("\n", " ")[:120]])
    header = ["stage", "fault", "migration", "orchestrator", "VM runs on", "recovery ms", "TCP survived",
              "UDP lost", "UDP duplicated", "reason reported"]
    import csv
    with open(os.path.join(OUT, f"faults-{ACCEL}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    one_vm = sum(1 for r in results if r.get("runs") in ("source", "destination"))
    fast = sum(1 for r in results if r.get("runs") == "source" and r.get("recovery_ms") is not None
               and r["recovery_ms"] <= 1000)
    src_cells = sum(1 for r in results if r.get("runs") == "source")
    md = [f"### Fault matrix [{ACCEL}]: a CompSC VF VM migrating host A -> host B, one fault per cell", "",
          f"Exactly one VM running: {one_vm} of {len(results)} cells. Source back within 1 s: {fast} of "
          f"{src_cells} cells where the source runs it. TCP survived: "
          f"{sum(1 for r in results if tcp_survived(r))} of {len(results)}.", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    md += ["", "Recovery: from the fault (or the end of the injected stall - 1.5 s, 300 ms in stop-and-copy and commitment - when the source could only "
           "notice then) until a VM runs. The orchestrator resolves \"outcome unknown\": destination-running "
           "if the destination answers and runs the VM, else it fences the destination and says resume-here."]
    text = "\n".join(md) + "\n"
    with open(os.path.join(OUT, f"faults-{ACCEL}.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if one_vm == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
