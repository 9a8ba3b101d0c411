#!/usr/bin/env python3
"""VF data path and register forwarding, measured in one run.

  guest -> uplink   vfraw mode=send; rate from the first to the last frame
                    seen on the datagram wire
  uplink -> guest   frames blasted into the wire; rate from the guest's first
                    to last frame (frames the VF had no room for are dropped
                    and reported)
  registers         app=regbench: a bare MMIO exit handled in compsc-vmm vs a
                    VF register write (posted to compsc-nic) and read (round
                    trip), and their ratios
Line rate: '--rate off' shows what the model and the VMM can move; '--rate
1g' shows the 82576 line rate being honoured."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
os.environ.setdefault("COMPSC_BUILD", "build")
from harness import GUEST, VMM, run  # noqa: E402
from nicutil import Guest, Nic  # noqa: E402


WIRE = os.path.join(os.environ["COMPSC_BUILD"], "tools", "compsc-wire")


def wire_json(proc):
    out, _ = proc.communicate(timeout=120)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return lines[-1]


def tx(rate, size, count):
    """Guest -> uplink, timed by compsc-wire on the far end."""
    with Nic(vfs=1, extra=["--rate", rate]) as nic:
        sink = subprocess.Popen([WIRE, "--wire", nic.wire_path, "sink", "--count", str(count)],
                                stdout=subprocess.PIPE, text=True)
        sink.stdout.readline()	# ready
        g = Guest(VMM, GUEST, f"app=vfraw mode=send count={count} size={size} dst=02:00:00:00:00:99",
                  vfs=[nic.vf(0)])
        g.finish()
        r = wire_json(sink)
        return r["frames"], r["fps"], r["gbps"]


def rx(size, count):
    """Uplink -> guest, timed by the guest from its first to its last frame."""
    with Nic(vfs=1, extra=["--rate", "off"]) as nic:
        g = Guest(VMM, GUEST, f"app=vfraw mode=recv count={count} timeout=8000", vfs=[nic.vf(0)])
        g.wait_line("vf0 up")
        blast = subprocess.run([WIRE, "--wire", nic.wire_path, "blast", "--dst", "02:00:00:00:00:10",
                                "--count", str(count), "--size", str(size)], capture_output=True, text=True)
        g.finish()
        m = re.search(r"received (\d+) frames .* first to last (\d+) us", g.output)
        if blast.returncode or not m:
            sys.exit(f"bench nic_vf: rx run failed:\n{blast.stderr}\n{g}")
        got, us = int(m.group(1)), max(int(m.group(2)), 1)
        return got, (got - 1) / (us / 1e6), (got - 1) * size * 8 / (us / 1e6) / 1e9


print(f"bench nic_vf [{os.environ.get('COMPSC_ACCEL') or 'auto'}]: VF frames per second and Gbit/s, register forwarding cost")
print(f"{'direction':<16}{'line rate':>10}{'frame B':>9}{'frames':>9}{'frames/s':>12}{'Gbit/s':>9}")
for rate in ("off", "1g"):
    for size, count in ((64, 50000), (1500, 20000)):
        n, fps, gbps = tx(rate, size, count)
        print(f"{'guest->uplink':<16}{rate:>10}{size:>9}{n:>9}{fps:>12.0f}{gbps:>9.3f}")
for size, count in ((64, 20000), (1500, 10000)):
    n, fps, gbps = rx(size, count)
    print(f"{'uplink->guest':<16}{'off':>10}{size:>9}{n:>9}{fps:>12.0f}{gbps:>9.3f}   ({count - n} dropped)")

with Nic(vfs=1) as nic:
    r = run([VMM, "--guest", GUEST, "--vf", nic.vf(0), "--cmdline", "app=regbench n=3000"], timeout=120)
m1 = re.search(r"bare MMIO exit write (\d+) ns, read (\d+) ns", r.stdout)
m2 = re.search(r"VF register write (\d+) ns, read (\d+) ns", r.stdout)
if not (m1 and m2):
    sys.exit(f"bench nic_vf: regbench failed: {r}")
bw, br, vw, vr = map(int, m1.groups() + m2.groups())
print(f"{'access':<24}{'us':>8}{'x bare exit':>13}")
print(f"{'bare MMIO exit (write)':<24}{bw / 1000:>8.1f}{1:>13.2f}")
print(f"{'bare MMIO exit (read)':<24}{br / 1000:>8.1f}{1:>13.2f}")
print(f"{'VF write (posted)':<24}{vw / 1000:>8.1f}{vw / bw:>13.2f}")
print(f"{'VF read (round trip)':<24}{vr / 1000:>8.1f}{vr / br:>13.2f}")
