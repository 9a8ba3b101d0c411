#!/usr/bin/env python3
"""CompSC's costs, measured in one run on one machine (needs root):

  migration      the same guest under the same load (a 2000/s UDP echo
                 stream from the peer), migrated host A -> host B, once
                 driving its VF with CompSC and once over virtio-net only
                 (the para-virtual baseline), RUNS times each, interleaved:
                 the hypervisor's downtime and total time, the service
                 downtime the peer saw (its longest echo gap), missed and
                 duplicated datagrams; CompSC / PV as a ratio (goal <= 1.2)
  restoration    the recorded state's size (goal < 4 KiB) and the driver's
                 restoration time on the destination
  overhead       no migration: iperf 2 TCP throughput and the UDP echo rate,
                 compsc=on vs compsc=off (goal: under 1 % apart)
  pre-copy       iperf 2 intervals (0.1 s) while pre-copy runs (stretched by
                 a bandwidth cap) against those before it (goal >= 0.95)

Set COMPSC_BENCH_QUICK=1 for one short run of each (the test does)."""
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import migrun  # noqa: E402

QUICK = os.environ.get("COMPSC_BENCH_QUICK") == "1"
RUNS = 1 if QUICK else 7	# interleaved; a noisy 2-core machine needs more than 3 for a median
ACCEL = os.environ.get("COMPSC_ACCEL") or "auto"

why = migrun.problem()
if why:
    print(f"bench compsc: skipped: {why}")
    sys.exit(0)


def spread(xs):
    xs = [x for x in xs if x is not None]
    return f"{min(xs):.1f}..{max(xs):.1f}" if xs else "-"


failed = []
runs = {"compsc": [], "pv": []}
with migrun.Bed("bcsc") as bed:
    for i in range(RUNS):
        for method in ("compsc", "pv"):
            r = migrun.run_migration(bed, method, load="udp", secs=4 if QUICK else 6, at=1.5 if QUICK else 2.5)
            print(f"  run {i + 1}/{RUNS} {method:<7} downtime {migrun.fmt(r.get('downtime_ms'))} ms, total "
                  f"{migrun.fmt(r.get('total_ms'))} ms, service downtime {migrun.fmt(r.get('service_downtime_ms'))} ms, "
                  f"missed {r.get('missed')}, duplicated {r.get('duplicated')}"
                  + (f"  FAILED: {r['error']}" if r.get("error") else ""), flush=True)
            if r.get("error"):
                failed.append(f"{method}: {r['error']}")
            runs[method].append(r)

    # Pre-copy stretched to ~2 s by a bandwidth cap, iperf 2 every 0.1 s.
    pre = migrun.run_migration(bed, "compsc", load="tcp", secs=8 if QUICK else 12, at=3 if QUICK else 4,
                               mig_args=["--bandwidth", "4M"], iperf_interval=0.1)
    if pre.get("error"):
        failed.append(f"pre-copy run: {pre['error']}")
    rep = pre.get("report", {})
    start, pause = rep.get("start-ns", 0) / 1e9, rep.get("pause-ns", 0) / 1e9
    ivs = pre.get("iperf", [])
    before = [bps for a, b, bps in ivs if b <= start and a >= start - 2.0]
    during = [bps for a, b, bps in ivs if a >= start and b <= pause]
    precopy_ratio = (statistics.mean(during) / statistics.mean(before)) if before and during else None

    steady = {"on": [], "off": []}
    for i in range(1 if QUICK else 2):
        for mode, extra in (("on", ""), ("off", "compsc=off")):
            s = migrun.steady(bed, "compsc", secs=3 if QUICK else 5, guest_args=extra)
            if s.get("error"):
                failed.append(f"steady {mode}: {s['error']}")
            steady[mode].append(s)

print(f"bench compsc [{ACCEL}]: CompSC (VF) vs the para-virtual NIC, same guest and load, same run; "
      f"median of {RUNS} (min..max)")
print(f"  {'':<44}{'CompSC (VF)':>18}{'PV (virtio-net)':>18}{'CompSC / PV':>13}")
for key, label in (("downtime_ms", "hypervisor downtime, ms"), ("total_ms", "total migration time, ms"),
                   ("service_downtime_ms", "service downtime (peer's longest gap), ms")):
    c, p = migrun.median(r.get(key) for r in runs["compsc"]), migrun.median(r.get(key) for r in runs["pv"])
    ratio = f"{c / p:.2f}" if c and p else "-"
    print(f"  {label:<44}{migrun.fmt(c):>9} {spread([r.get(key) for r in runs['compsc']]):>8}"
          f"{migrun.fmt(p):>9} {spread([r.get(key) for r in runs['pv']]):>8}{ratio:>13}")
for key, label in (("missed", "datagrams missed (all runs)"), ("duplicated", "datagrams duplicated (all runs)")):
    c = sum(r.get(key) or 0 for r in runs["compsc"])
    p = sum(r.get(key) or 0 for r in runs["pv"])
    print(f"  {label:<44}{c:>18}{p:>18}")
held = [r.get("report", {}).get("carried", {}).get("rx-held-frames") for r in runs["compsc"]]
print(f"  {'RX frames held at the source, delivered':<44}{migrun.fmt(migrun.median(held), '{:.0f}'):>18}{'-':>18}")
rec = migrun.median(r.get("recorded_state_bytes") for r in runs["compsc"])
rest = migrun.median(r.get("restore_us") for r in runs["compsc"])
print(f"  recorded state (op sets): {migrun.fmt(rec, '{:.0f}')} bytes (goal < 4096); restoration on the destination: "
      f"{migrun.fmt(rest / 1000 if rest else None, '{:.2f}')} ms median ({spread([r.get('restore_us', 0) / 1000 for r in runs['compsc'] if r.get('restore_us')])})")
print(f"  pre-copy (bandwidth 4 MB/s, {len(during)} intervals of 0.1 s during, {len(before)} before): "
      f"iperf {migrun.fmt(statistics.mean(during) / 1e6 if during else None, '{:.0f}')} vs "
      f"{migrun.fmt(statistics.mean(before) / 1e6 if before else None, '{:.0f}')} Mbit/s, ratio "
      f"{migrun.fmt(precopy_ratio, '{:.3f}')} (goal >= 0.95)")
for key, label, unit in (("tcp_mbit_s", "iperf 2 TCP peer->guest", "Mbit/s"), ("udp_pps", "UDP echo rate", "/s"),
                         ("http_rps", "HTTP wrk index.html", "req/s")):
    on, off = migrun.median(s.get(key) for s in steady["on"]), migrun.median(s.get(key) for s in steady["off"])
    diff = f"{(on - off) / off * 100:+.1f} %" if on and off else "-"
    print(f"  no migration, {label}: compsc=on {migrun.fmt(on, '{:.0f}')} {unit}, compsc=off {migrun.fmt(off, '{:.0f}')} "
          f"{unit}: on vs off {diff} (goal within 1 %)")
if failed:
    print("bench compsc: FAILED measurements:\n  " + "\n  ".join(failed))
    sys.exit(1)
