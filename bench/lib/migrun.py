"""One guest on the network test bed, run by one method, migrated host A ->
host B under load, and what every party saw: the hypervisor's report, the
peer's UDP echo accounting and iperf 2 intervals, the guest's own log.

Shared by bench/compsc.py (CompSC's costs) and bench/paper.py (the paper's
experiments), and by the short tests that keep both working. The methods:

  pv          virtio-net only (the para-virtual baseline)
  compsc      the VF, its driver using CompSC
  compsc-off  the VF, CompSC off in the driver (the negative control)
  bonding     VF + virtio-net bonded active-backup in the guest (bond=1);
              the orchestrator (compsc migrate --method bonding) unplugs
              the VF, migrates, plugs the destination's VF (started with
              --vf-unplugged) and waits for the fail-back

Clocks: the VMMs' report times are CLOCK_MONOTONIC of this machine, as is
time.monotonic(); iperf's interval times are relative to its own start,
which is taken here on the same clock."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
os.environ.setdefault("COMPSC_BUILD", "build")
BUILD = os.environ["COMPSC_BUILD"]
os.environ.setdefault("COMPSC_VMM", os.path.join(BUILD, "vmm", "compsc-vmm"))
os.environ.setdefault("COMPSC_GUEST", os.path.join(BUILD, "guest", "compsc-guest.elf"))
os.environ.setdefault("COMPSC_NIC", os.path.join(BUILD, "nic", "compsc-nic"))
os.environ.setdefault("COMPSC_PEER", os.path.join(BUILD, "tools", "peer", "compsc-peer"))
COMPSC = os.environ.get("COMPSC_CLI") or os.path.join(BUILD, "tools", "compsc")

from harness import accel_problem, problems  # noqa: E402
from netbed import PEER_TOOL, HostNic, Testbed, Vm, root_problem  # noqa: E402,F401

IP = "10.0.0.10"
ADDR = {"hostA": "10.0.0.1", "hostB": "10.0.0.2"}


def _bonding_available():
    """Whether this build's compsc knows --method (hot-plug and bonding)."""
    try:
        out = subprocess.run([COMPSC, "migrate", "--help"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "--method" in out


# How each method's VM is built: a virtio-net on the host's TAP, the VF,
# and what the guest's command line adds.
METHODS = {
    "pv": {"tap": True, "vf": False, "guest": ""},
    "compsc": {"tap": False, "vf": True, "guest": ""},
    "compsc-off": {"tap": False, "vf": True, "guest": "compsc=off"},
    "bonding": {"tap": True, "vf": True, "guest": "bond=1"},
}


def problem():
    """Why this machine cannot run these measurements, or None."""
    return problems(accel_problem(), root_problem())


def method_problem(method):
    if method == "bonding" and not _bonding_available():
        return "this build has no hot-plug (compsc migrate --method): bonding not measured"
    return None


class Bed:
    """The test bed with both hosts' NICs, and a scratch directory."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.bed = Testbed(self.name).__enter__()
        try:
            self.nic = {"hostA": HostNic(self.bed, "hostA").__enter__(),
                        "hostB": HostNic(self.bed, "hostB").__enter__()}
        except Exception:
            self.bed.__exit__(None, None, None)
            raise
        self.port = 4600
        self.n = 0
        self.vf_index = 0
        return self

    def next_run(self):
        """Each run takes the other VF of each host (so another MAC): what
        the bridge, the NICs and the peer learnt about the previous run's
        VM (its MAC assigned to host B's VF, its location) cannot touch
        this one."""
        self.vf_index ^= 1

    def __exit__(self, *exc):
        for n in self.nic.values():
            n.__exit__(None, None, None)
        self.bed.__exit__(None, None, None)
        self.tmp.cleanup()

    def path(self, name):
        self.n += 1
        return os.path.join(self.tmp.name, f"{self.n}-{name}")

    def peer(self, args, timeout=120):
        return self.bed.run("peer", args, timeout=timeout)

    def peer_popen(self, args):
        return subprocess.Popen(self.bed.ns("peer") + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    def guest_up(self, vm, timeout=20):
        """Waits for the guest's network; then the peer forgets what it knew
        of the guest's address and reaches it once. False if it never came up."""
        if not vm.wait_for("net: ready", timeout=timeout):
            return False
        self.peer(["ip", "neigh", "flush", "all"])
        self.peer(["ping", "-c", "2", "-i", "0.2", "-W", "1", IP])
        return True

    def vm(self, method, host, guest_args="", mem=None, incoming=None, env=None):
        """A VM for this method on this host (incoming: "tcp:ADDR:PORT";
        env: more environment variables for its VMM)."""
        m = METHODS[method]
        api = self.path(f"{host}.sock")
        extra = ["--api", api] + (["--mem", mem] if mem else [])
        if incoming:
            extra += ["--incoming", incoming]
        args = " ".join(a for a in (guest_args, m["guest"]) if a) if not incoming else ""
        vf = self.nic[host].vf(self.vf_index) if m["vf"] else None
        if vf and incoming and method == "bonding":
            # The orchestrator plugs it after the migration (device-add).
            extra += ["--vf-unplugged", vf]
            vf = None
        vm = Vm(self.bed, args, host=host, tap="tap0" if m["tap"] else None, vf=vf, extra=extra, env=env)
        vm.api = api
        return vm

    def incoming(self, method, host="hostB", mem=None, env=None):
        """An incoming VMM, listening (or exited) when this returns."""
        self.port += 1
        uri = f"tcp:{ADDR[host]}:{self.port}"
        vm = self.vm(method, host, mem=mem, incoming=uri, env=env)
        end = time.monotonic() + 10
        while time.monotonic() < end and not any("listening" in l for l in vm.err) and vm.proc.poll() is None:
            time.sleep(0.02)
        vm.uri = uri
        return vm


def migrate(bed, method, src, dst, extra=None, timeout=120):
    """compsc migrate --json from src to dst; the report as a dict
    (empty on failure, with "error" and "exit" set)."""
    args = [COMPSC, "migrate", src.api, "--to", dst.uri, "--json"] + (extra or [])
    if method == "bonding":
        args += ["--method", "bonding", "--dest-api", dst.api, "--dest-vf", bed.nic["hostB"].vf(bed.vf_index)]
    elif _bonding_available():
        args += ["--method", method]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    try:
        rep = json.loads(p.stdout[p.stdout.index("{"):])
    except ValueError:
        rep = {}
    rep["exit"] = p.returncode
    if p.returncode != 0:
        rep.setdefault("error", (p.stdout + p.stderr).strip()[-400:])
    return rep


def finish(proc, deadline):
    """A peer program's output; killed at the deadline (an iperf whose
    connection died waits for ever): its returncode then says so."""
    try:
        return proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


def iperf_intervals(out, t0=0.0):
    """iperf 2 -y C rows: [(start s, end s, bits/s)], the whole-run line left out."""
    rows = []
    for line in out.splitlines():
        f = line.split(",")
        if len(f) < 9:
            continue
        try:
            a, b = (float(x) for x in f[6].split("-"))
            bps = float(f[8])
        except ValueError:
            continue
        rows.append((t0 + a, t0 + b, bps))
    if len(rows) > 1:
        whole = max(rows, key=lambda r: r[1] - r[0])
        if whole[0] == t0 and whole[1] - whole[0] > 2 * (rows[0][1] - rows[0][0]):
            rows.remove(whole)
    return rows


def median(xs):
    """The median of the figures that were measured (None: not measured)."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, f="{:.1f}"):
    return f.format(x) if x is not None else "-"


def guest_value(vm, pattern, conv=float):
    """The last match of pattern's first group in the guest's console."""
    vals = [re.search(pattern, l) for l in vm.out]
    vals = [conv(m.group(1)) for m in vals if m]
    return vals[-1] if vals else None


def run_migration(bed, method, load="udp", secs=8.0, at=3.0, rate=2000, mem=None, mig_args=None,
                  iperf_interval=0.1, guest_args="", apps="echo,iperf,http"):
    """One migration A -> B under load, return every figure as a dict.

    load: "udp"  - only the UDP echo stream (rate datagrams/s)
          "tcp"  - and an iperf 2 transfer from the peer (intervals kept)
          "http" - and wrk against the guest's httpd
    The migration starts at `at` s into a `secs`-s run."""
    args = f"app={apps} ip={IP}/24 gw=10.0.0.1 stats-ms=1000 {guest_args}".strip()
    bed.next_run()
    src = bed.vm(method, "hostA", args, mem=mem)
    dst = bed.incoming(method, "hostB", mem=mem)
    out = {"method": method, "load": load}
    try:
        if not bed.guest_up(src):
            out["error"] = "the source guest did not come up: " + src.text()[-400:]
            return out
        out["recorded_state_bytes"] = guest_value(src, r"recorded state (\d+) bytes", int)
        echo_json = bed.path("echo.json")
        peers = [bed.peer_popen([PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", str(rate), "--secs", str(secs),
                                 "--echo", "--grace-ms", "800", "--bucket-ms", "100", "--json", echo_json])]
        t_start = time.monotonic()
        iperf = None
        if load == "tcp":
            iperf = bed.peer_popen(["iperf", "-c", IP, "-t", str(secs), "-i", str(iperf_interval), "-y", "C"])
        elif load == "http":
            peers.append(bed.peer_popen(["wrk", "-t", "1", "-c", "4", "-d", f"{int(secs)}s",
                                         f"http://{IP}/index.html"]))
        time.sleep(max(0.0, at - (time.monotonic() - t_start)))
        rep = migrate(bed, method, src, dst, mig_args)
        out["report"] = rep
        if iperf:
            iout = finish(iperf, t_start + secs + 15)
            out["iperf"] = iperf_intervals(iout, t_start)
            out["iperf_exit"] = iperf.returncode
        texts = [finish(p, t_start + secs + 15) for p in peers]
        if load == "http":
            m = re.search(r"Requests/sec:\s+([\d.]+)", texts[1])
            out["http_rps"] = float(m.group(1)) if m else None
        try:
            with open(echo_json) as f:
                echo = json.load(f)
        except (OSError, ValueError):
            echo = {}
        out["echo"] = echo
        out["t_start"] = t_start
        time.sleep(0.3)
        out["restore_us"] = guest_value(dst, r"compsc: restored in (\d+) us", int)
        out["downtime_ms"] = rep.get("downtime-ms")
        out["total_ms"] = rep.get("total-time-ms")
        # The peer's buckets end at its last echo: a stream that never came
        # back after the migration has none in its last second.
        out["recovered"] = any(b["packets"] for b in echo.get("buckets", []) if b["t_ms"] >= (secs - 1) * 1000)
        out["service_downtime_ms"] = echo.get("longest_gap_ms") if out["recovered"] else None
        out["missed"] = echo.get("missed")
        out["duplicated"] = echo.get("duplicated")
        out["dst_log"] = dst.text()
        out["src_log"] = src.text()
        if rep["exit"] != 0:
            out["error"] = rep.get("error")
        return out
    finally:
        src.stop()
        dst.stop()


def steady(bed, method, secs=5, udp_rate=60000, guest_args=""):
    """No migration: TCP peer->guest throughput (iperf 2), and the UDP echo
    rate that comes back when `udp_rate` datagrams/s are offered."""
    args = f"app=echo,iperf,http ip={IP}/24 gw=10.0.0.1 {guest_args}".strip()
    bed.next_run()
    vm = bed.vm(method, "hostA", args)
    res = {"method": method}
    try:
        if not bed.guest_up(vm):
            res["error"] = "the guest did not come up: " + vm.text()[-400:]
            return res
        _, out = bed.peer(["iperf", "-c", IP, "-t", str(secs), "-y", "C"], timeout=secs + 30)
        rows = [l.split(",") for l in out.splitlines() if l.count(",") >= 8]
        res["tcp_mbit_s"] = int(rows[-1][8]) / 1e6 if rows else None
        _, out = bed.peer([PEER_TOOL, "send", "--to", f"{IP}:7", "--rate", str(udp_rate), "--secs", "3",
                           "--echo", "--grace-ms", "300"], timeout=40)
        m = re.search(r"unique (\d+) missed (\d+)", out)
        res["udp_pps"] = int(m.group(1)) / 3 if m else None
        _, out = bed.peer(["wrk", "-t", "1", "-c", "4", "-d", "3s", f"http://{IP}/index.html"], timeout=30)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        res["http_rps"] = float(m.group(1)) if m else None
        return res
    finally:
        vm.stop()
