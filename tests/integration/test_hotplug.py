#!/usr/bin/env python3
"""Hot-plug and the bonding-failover baseline on the test bed.

A guest with bond=1 runs an active-backup bond over its VF and its
virtio-net interface (one MAC). Under a UDP echo stream from the peer, the
VF is removed (device-del: the guest fails over to virtio-net, acknowledges,
the VMM detaches the VF) and added again (device-add: the guest probes it and
fails back). A guest without a bond never acknowledges: device-del times out
in bounded time and the VF stays attached and working. A VF another VMM uses
cannot be added. Then `compsc migrate --method bonding` host A -> host B:
unplug, migrate over virtio-net, plug host B's VF, fail back, with the echo
stream running through it."""
import json
import os
import re
import subprocess
import tempfile
import time

from harness import Tap, accel_problem, problems
from miglib import COMPSC, Api
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem

t = Tap()
CHECKS = [
    "device-del with a bonded guest: acknowledged, the VF detached (slot empty), failover logged with its duration",
    "while the VF is absent the UDP echo stream goes on over virtio-net (echoes received, replies sent via vn0)",
    "device-add: the guest probes the VF and fails back (logged); replies leave through the VF and the NIC again",
    "the echo stream across removal and re-insertion: at most a few datagrams missed, none duplicated",
    "device-del to a guest that never acknowledges: a clear timeout error in bounded time, the VF stays and works",
    "device-add of a VF another VMM uses is refused, and that VMM's VF keeps working",
    "compsc migrate --method bonding A -> B: completes, the report lists the four phases with durations",
    "the echo stream through the bonding migration continues (echoes after it), the destination failed back to its VF",
]
problem = problems(accel_problem(), root_problem())
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

IP, IP2 = "10.0.0.10", "10.0.0.11"


def cli(*args, timeout=60):
    return subprocess.run([COMPSC, *args], capture_output=True, text=True, timeout=timeout)


def peer_echo(bed, ip, secs, json_path):
    return subprocess.Popen(bed.ns("peer") + [PEER_TOOL, "send", "--to", f"{ip}:7", "--rate", "500", "--secs",
                                              str(secs), "--echo", "--grace-ms", "800", "--bucket-ms", "100",
                                              "--json", json_path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def accounting(text):
    m = re.search(r"sent (\d+) received \d+ unique (\d+) missed (\d+) duplicated (\d+)", text)
    return tuple(int(m.group(i)) for i in range(1, 5)) if m else None


def peer_buckets(json_path):
    """The peer's per-100-ms echo counts from its --json file ([] if none)."""
    try:
        with open(json_path) as f:
            return json.load(f)["buckets"]
    except (OSError, ValueError, KeyError):
        return []


def bond_tx(vm):
    """(tx via vf, tx via vn) from the bond's latest statistics line."""
    for line in reversed(vm.out):
        m = re.search(r"bond0: active \S+ vf \S+ failovers \d+ failbacks \d+ \| tx via vf (\d+) via vn (\d+)", line)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def wait_stats(vm, secs=1.2):
    """Two statistics periods, so the bond's counters are current."""
    time.sleep(secs)
    return bond_tx(vm)


def slot_present(sock, vf="vf0"):
    r = cli("status", sock, "--json")
    try:
        return {s["id"]: s["present"] for s in json.loads(r.stdout)["vf-slots"]}.get(vf)
    except (ValueError, KeyError):
        return None


def nic_tx(nic):
    try:
        return nic.ctl("stats")["uplink_tx_frames"]
    except Exception:
        return None


def ms_of(line):
    m = re.search(r"\(([\d.]+) ms\)", line or "")
    return float(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp, Testbed("hotplug") as bed, \
        HostNic(bed, "hostA") as nic_a, HostNic(bed, "hostB") as nic_b:
    sock = {n: os.path.join(tmp, n + ".sock") for n in ("a", "n", "m", "d")}
    durations = []
    # 1. The bond on host A under an echo stream: remove the VF, add it back.
    vm = Vm(bed, f"app=echo ip={IP}/24 gw=10.0.0.1 bond=1 stats-ms=500", host="hostA", tap="tap0",
            vf=nic_a.vf(0), extra=["--api", sock["a"]])
    other = None
    try:
        vm.wait_for("net: ready")
        pj = os.path.join(tmp, "peer1.json")
        peer = peer_echo(bed, IP, 9, pj)
        t0 = time.monotonic()
        time.sleep(2)
        before = wait_stats(vm, 0.6)
        r = cli("device-del", sock["a"], "--json")
        t_del = time.monotonic() - t0
        fo = vm.wait_for("bond: failover to virtio-net", timeout=5)
        absent = slot_present(sock["a"])
        durations.append(("failover", ms_of(fo)))
        t.ok(r.returncode == 0 and absent is False and ms_of(fo) is not None, CHECKS[0],
             f"{r.stdout}{r.stderr}\nslot present: {absent}\n{vm.text()}")
        on_vn_start = wait_stats(vm)
        time.sleep(1.2)
        on_vn_end = bond_tx(vm)
        nic_before = nic_tx(nic_a)
        t_add = time.monotonic() - t0
        r2 = cli("device-add", sock["a"], "--path", nic_a.vf(0), "--json")
        fb = vm.wait_for("bond: failback to vf", timeout=5)
        durations.append(("failback", ms_of(fb)))
        back = wait_stats(vm, 1.5)
        nic_after = nic_tx(nic_a)
        pout, _ = peer.communicate(timeout=60)
        acc = accounting(pout)
        buckets = peer_buckets(pj)
        # Buckets well inside the VF-absent window (the peer's clock starts
        # at its first echo, a moment after t0).
        window = [b["packets"] for b in buckets if t_del + 0.4 <= b["t_ms"] / 1000 <= t_add - 0.2]
        print(f"# bond: failover {ms_of(fo)} ms, failback {ms_of(fb)} ms; echoes per 100 ms while the VF was "
              f"absent: {window}; peer: {pout.strip()}")
        t.ok(on_vn_start and on_vn_end and on_vn_end[1] > on_vn_start[1] and on_vn_end[0] == on_vn_start[0]
             and window and sum(window) > 0 and sum(1 for p in window if p) >= len(window) * 0.8,
             CHECKS[1], f"tx (vf, vn): before {before}, VF absent {on_vn_start} -> {on_vn_end}\nwindow {window}\n"
             f"{pout}\n{vm.text()}")
        t.ok(r2.returncode == 0 and fb and back and on_vn_end and back[0] > on_vn_end[0] and nic_before is not None
             and nic_after is not None and nic_after > nic_before and slot_present(sock["a"]) is True, CHECKS[2],
             f"{r2.stdout}{r2.stderr}\ntx (vf, vn) {on_vn_end} -> {back}; NIC uplink tx {nic_before} -> "
             f"{nic_after}\n{vm.text()}")
        t.ok(acc is not None and acc[3] == 0 and acc[2] <= max(10, acc[0] // 50) and acc[1] > 0, CHECKS[3],
             f"{pout}\n{vm.text()}")

        # 2. A guest without the bond never acknowledges.
        other = Vm(bed, f"app=echo ip={IP2}/24 gw=10.0.0.1", host="hostA", tap=None, vf=nic_a.vf(1),
                   extra=["--api", sock["n"]])
        other.wait_for("net: ready")
        start = time.monotonic()
        r = cli("device-del", sock["n"], "--timeout-ms", "1500")
        took = time.monotonic() - start
        rc, ping = bed.run("peer", ["ping", "-c", "3", "-i", "0.2", "-W", "2", IP2])
        print(f"# device-del without acknowledgement: exit {r.returncode} after {took:.2f} s: {r.stderr.strip()}")
        t.ok(r.returncode == 1 and 1.4 <= took <= 4 and "did not acknowledge" in r.stderr
             and "stays attached" in r.stderr and slot_present(sock["n"]) is True and rc == 0, CHECKS[4],
             f"{r.stdout}{r.stderr}\ntook {took:.2f} s\n{ping}\n{other.text()}")

        # 3. The bonded VM's slot is empty again; vf1 belongs to the other VM.
        r = cli("device-del", sock["a"])
        r2 = cli("device-add", sock["a"], "--path", nic_a.vf(1))
        rc, ping = bed.run("peer", ["ping", "-c", "3", "-i", "0.2", "-W", "2", IP2])
        print(f"# device-add of a busy VF: exit {r2.returncode}: {r2.stderr.strip()}")
        t.ok(r.returncode == 0 and r2.returncode == 1 and "in use" in r2.stderr and slot_present(sock["a"]) is False
             and rc == 0, CHECKS[5], f"{r.stdout}{r.stderr}\n{r2.stdout}{r2.stderr}\n{ping}\n{vm.text()}")
    finally:
        vm.stop()
        if other:
            other.stop()

    # 4. compsc migrate --method bonding, host A -> host B, under an echo stream.
    src = Vm(bed, f"app=echo ip={IP}/24 gw=10.0.0.1 bond=1 stats-ms=500", host="hostA", tap="tap0",
             vf=nic_a.vf(0), extra=["--api", sock["m"]])
    uri = "tcp:10.0.0.2:4610"
    dst = Vm(bed, "", host="hostB", tap="tap0", extra=["--vf-unplugged", nic_b.vf(0), "--api", sock["d"],
                                                       "--incoming", uri])
    try:
        src.wait_for("net: ready")
        dst.wait_for("listening", stream="err", timeout=10)
        pj = os.path.join(tmp, "peer2.json")
        peer = peer_echo(bed, IP, 10, pj)
        time.sleep(2)
        r = cli("migrate", sock["m"], "--to", uri, "--method", "bonding", "--dest-api", sock["d"], "--dest-vf",
                nic_b.vf(0), "--json", timeout=90)
        rep = {}
        try:
            rep = json.loads(r.stdout)
        except ValueError:
            pass
        ph = rep.get("phases", {})
        fb = dst.wait_for("bond: failback to vf", timeout=5)
        durations.append(("migration failback", ms_of(fb)))
        time.sleep(2)
        after = bond_tx(dst)
        pout, _ = peer.communicate(timeout=60)
        acc = accounting(pout)
        buckets = peer_buckets(pj)
        tail = [b["packets"] for b in buckets][-15:-3]
        print("# bonding migration phases (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in ph.items()
                                                            if isinstance(v, (int, float))))
        print(f"# bonding migration: downtime {rep.get('downtime-ms')} ms; peer: {pout.strip()}")
        want = ("unplug-ms", "migrate-ms", "plug-ms", "failback-ms", "total-ms")
        t.ok(r.returncode == 0 and rep.get("status") == "completed" and rep.get("method") == "bonding"
             and all(isinstance(ph.get(k), (int, float)) and ph[k] > 0 for k in want), CHECKS[6],
             f"{r.stdout}{r.stderr}\n{src.text()}\n{dst.text()}")
        t.ok(acc is not None and acc[3] == 0 and acc[1] > acc[0] // 2 and tail and all(p > 0 for p in tail)
             and fb is not None and after is not None and after[0] > 0, CHECKS[7],
             f"{pout}\ntail buckets {tail}\nbond tx on the destination {after}\n{dst.text()}")
    finally:
        src.stop()
        dst.stop()
    print("# measured: " + ", ".join(f"{k} {v} ms" for k, v in durations))
t.done()
