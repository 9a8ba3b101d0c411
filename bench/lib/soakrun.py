"""The CompSC soak: one VM driving its VF migrates host A <-> host B n times
under one iperf 2 TCP connection and one UDP echo stream that last the whole
run; what leaked in the two hosts' compsc-nic and what the peer saw.

Shared by bench/soak.py (50 migrations, a table) and
tests/integration/test_soak.py (a short run, asserted).

Each move starts a fresh --incoming VMM on the other host with that host's
VF 0 (the NIC gives it the VM's MAC through the PF), migrates, and waits
for the source VMM to exit, which frees its VF for the way back. Moves are
paced, one every `period` seconds, so that the traffic (started once, for
a fixed time: iperf 2 and compsc-peer end on their own and only then print
their whole-run figures) spans them all.

The NICs are sampled (open fds from /proc/PID/fd, VmRSS) before the first
move, after `warmup` moves and at the end. Samples are compared with the VM
on the same host (warmup and n even: back on host A), since the NIC whose
VF the VM drives holds that VMM's vfio-user connection."""
import json
import os
import re
import statistics
import time

import migrun

IP = migrun.IP


def nic_pid(nic):
    """The pid of the compsc-nic process itself. `ip netns exec` execs the
    program, so it is the Popen's pid; checked, since a wrapper that forks
    would make us sample the wrong process."""
    pid = nic.proc.pid
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    if os.path.basename(exe) != "compsc-nic":
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            try:
                if os.path.basename(os.readlink(f"/proc/{k}/exe")) == "compsc-nic":
                    return k
            except OSError:
                pass
        raise RuntimeError(f"pid {pid} is {exe!r}, not compsc-nic")
    return pid


def sample(pid):
    """{fds, rss_kib} of a process."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"fds": fds, "rss_kib": rss}


def under_asan(pid):
    """Whether the process carries AddressSanitizer (make test SANITIZE=1):
    its quarantine keeps freed memory, so RSS then says nothing of leaks."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def soak(bed, n=50, warmup=2, period=3.0, rate=500, iperf_bw="200M", log=print):
    """n moves A <-> B under traffic; returns every figure as a dict."""
    assert n % 2 == 0 and warmup % 2 == 0 and warmup < n, "n and warmup even: the VM ends where it started"
    pids = {h: nic_pid(bed.nic[h]) for h in ("hostA", "hostB")}
    res = {"n": n, "warmup": warmup, "period_s": period, "ok": 0, "failed": 0, "downtime_ms": [],
           "pids": pids, "samples": {}, "errors": [], "asan": any(under_asan(p) for p in pids.values())}
    cur = bed.vm("compsc", "hostA", f"app=echo,iperf ip={IP}/24 gw=10.0.0.1")
    vms = [cur]
    iperf = peer = None
    try:
        if not bed.guest_up(cur, timeout=30):
            res["errors"].append("the guest did not come up: " + cur.text()[-600:])
            return res
        res["samples"]["before"] = {h: sample(p) for h, p in pids.items()}
        lead = 2.0
        secs = int(lead + n * period + 3)
        res["traffic_secs"] = secs
        echo_json = bed.path("echo.json")
        peer = bed.peer_popen([migrun.PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", str(rate), "--secs",
                               str(secs), "--echo", "--grace-ms", "1000", "--json", echo_json])
        iperf = bed.peer_popen(["iperf", "-c", IP, "-t", str(secs), "-i", "1", "-b", iperf_bw])
        t0 = time.monotonic()
        host = "hostA"
        for i in range(n):
            time.sleep(max(0.0, t0 + lead + i * period - time.monotonic()))
            if time.monotonic() > t0 + secs - 1.0:
                res["errors"].append(f"move {i + 1} would start after the traffic ended (moves slower than "
                                     f"{period} s each): stopped")
                break
            other = "hostB" if host == "hostA" else "hostA"
            dst = bed.incoming("compsc", other)
            vms.append(dst)
            rep = migrun.migrate(bed, "compsc", cur, dst)
            src_rc = cur.finish(15) if rep["exit"] == 0 else None
            if rep["exit"] != 0 or rep.get("status") != "completed" or src_rc != 0:
                res["failed"] += 1
                res["errors"].append(f"move {i + 1} {host} -> {other}: exit {rep['exit']}, source VMM exit "
                                     f"{src_rc}: {rep.get('error')}\n{cur.text()[-800:]}\n{dst.text()[-800:]}")
                break
            res["ok"] += 1
            res["downtime_ms"].append(rep.get("downtime-ms"))
            carried = rep.get("carried") or {}
            for k in ("rx-held-frames", "rx-dropped-frames"):
                res[k] = res.get(k, 0) + (carried.get(k) or 0)
            log(f"# move {i + 1}/{n} {host} -> {other}: downtime {rep.get('downtime-ms', 0):.1f} ms, "
                f"total {rep.get('total-time-ms', 0):.0f} ms, held RX frames {carried.get('rx-held-frames')} "
                f"(dropped {carried.get('rx-dropped-frames')})")
            vms.remove(cur)  # exited: its VF is free for the way back
            cur, host = dst, other
            if res["ok"] == warmup:
                res["samples"]["warm"] = {h: sample(p) for h, p in pids.items()}
        deadline = t0 + secs + 30
        res["iperf_out"] = migrun.finish(iperf, deadline)
        res["iperf_exit"] = iperf.returncode
        res["peer_out"] = migrun.finish(peer, deadline)
        res["peer_exit"] = peer.returncode
        iperf = peer = None
        # iperf 2's whole-run line: 0.0 to (about) the full time.
        whole = [m for m in re.finditer(r"\s0\.0+-\s*([\d.]+) sec\s+.*bits/sec", res["iperf_out"])
                 if float(m.group(1)) >= secs - 1]
        res["iperf_whole"] = whole[-1].group(0).strip() if whole else None
        try:
            with open(echo_json) as f:
                echo = json.load(f)
        except (OSError, ValueError):
            echo = {}
        res["echo"] = {k: echo.get(k) for k in ("sent", "received", "unique", "missed", "duplicated",
                                                "longest_gap_ms")}
        time.sleep(1)  # the NICs settle (the last source's VF released)
        res["samples"]["end"] = {h: sample(p) for h, p in pids.items()}
        res["vm_alive"] = cur.proc.poll() is None
        return res
    finally:
        for p in (iperf, peer):
            if p and p.poll() is None:
                p.kill()
                p.communicate()
        for vm in vms:
            vm.stop()


def summary(res):
    """The derived verdicts: a dict of name -> (ok, text)."""
    dts = [d for d in res["downtime_ms"] if d is not None]
    s = res["samples"]
    out = {}
    out["migrations"] = (res["ok"] == res["n"] and res["failed"] == 0,
                         f"{res['ok']} ok, {res['failed']} failed, {res['n'] - res['ok'] - res['failed']} not run")
    out["downtime"] = (bool(dts), f"median {statistics.median(dts):.1f} ms, max {max(dts):.1f} ms" if dts else "-")
    for h in ("hostA", "hostB"):
        b, w, e = (s.get(k, {}).get(h) for k in ("before", "warm", "end"))
        if not (b and w and e):
            out[f"{h} NIC fds"] = (False, "not sampled")
            out[f"{h} NIC RSS"] = (False, "not sampled")
            continue
        out[f"{h} NIC fds"] = (e["fds"] == w["fds"], f"{b['fds']} before, {w['fds']} after warm-up, {e['fds']} at "
                               f"the end")
        grow = e["rss_kib"] - w["rss_kib"]
        # None: not judged (ASan's quarantine grows RSS by design).
        out[f"{h} NIC RSS"] = (None if res.get("asan") else grow < 2048,
                               f"{b['rss_kib']} KiB before, {w['rss_kib']} after warm-up, "
                               f"{e['rss_kib']} at the end ({grow:+d} KiB)" +
                               (" (under ASan: not judged)" if res.get("asan") else ""))
    echo = res.get("echo") or {}
    out["UDP echo"] = (echo.get("missed") == 0 and echo.get("duplicated") == 0 and bool(echo.get("sent")),
                       f"{echo.get('sent')} sent, {echo.get('missed')} missed, {echo.get('duplicated')} duplicated, "
                       f"longest gap {echo.get('longest_gap_ms')} ms")
    out["held RX frames"] = (True, f"{res.get('rx-held-frames', 0)} carried over all moves, "
                                   f"{res.get('rx-dropped-frames', 0)} dropped because the held queue was full")
    out["TCP"] = (res.get("iperf_exit") == 0 and res.get("iperf_whole") is not None,
                  f"iperf exit {res.get('iperf_exit')}; {res.get('iperf_whole') or 'no whole-run line'}")
    return out


def table(res, title):
    lines = [title]
    s = summary(res)
    w = max(len(k) for k in s)
    for k, (ok, text) in s.items():
        lines.append(f"  {k:<{w}}  {'-   ' if ok is None else 'ok  ' if ok else 'FAIL'}  {text}")
    for e in res["errors"]:
        lines.append("  error: " + e.splitlines()[0])
    return "\n".join(lines)

