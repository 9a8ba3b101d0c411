#!/usr/bin/env python3
"""The paper's experiments, every method side by side in one run on one
machine (needs root; `make bench`, or `compsc bench paper`):

  1 throughput   iperf 2 TCP peer -> guest for 30 s, a migration at 10 s,
                 iperf's own 100-ms interval reports; one line per method
  2 downtime     the hypervisor's downtime and the service downtime the
                 peer saw (longest gap of a UDP echo stream), 5 runs each
  3 loss         duplicated and missed datagrams of a UDP echo stream
                 across a migration, under no other load, a bulk TCP
                 transfer, and HTTP load (wrk against the guest's httpd)
  4 overhead     no migration: TCP throughput, UDP echo rate, HTTP req/s
  5 scaling      CompSC's downtime and total time against guest memory
                 (128 MiB .. 2 GiB, 3/8 of it written) and dirty rate

Methods (bench/lib/migrun.py): pv, bonding, compsc, compsc-off.
Each experiment writes NAME-ACCEL.csv, NAME-ACCEL.png (gnuplot) and
NAME-ACCEL.md into bench/results/ (COMPSC_RESULTS_DIR to change) and
prints its table; a progress line per run goes to stderr.

COMPSC_PAPER_QUICK=1 runs a few seconds of each (the test does);
COMPSC_PAPER_ONLY=1,3 runs some experiments only, COMPSC_PAPER_METHODS=pv,compsc
some methods only."""
import csv
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import migrun  # noqa: E402

QUICK = os.environ.get("COMPSC_PAPER_QUICK") == "1"
ONLY = {int(x) for x in os.environ.get("COMPSC_PAPER_ONLY", "1,2,3,4,5").split(",") if x.strip()}
ACCEL = os.environ.get("COMPSC_ACCEL") or "auto"
OUT = os.environ.get("COMPSC_RESULTS_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ALL_METHODS = ["pv", "bonding", "compsc", "compsc-off"]
LABEL = {"pv": "PV (virtio-net)", "bonding": "bonding failover", "compsc": "CompSC (VF)",
         "compsc-off": "VF, compsc=off"}


def progress(text):
    print(f"paper [{ACCEL}] {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def out_path(name, ext):
    return os.path.join(OUT, f"{name}-{ACCEL}.{ext}")


def write_csv(name, header, rows):
    with open(out_path(name, "csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_md(name, title, header, rows, notes=()):
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    lines += [""] + [f"{n}" for n in notes]
    text = "\n".join(lines).rstrip() + "\n"
    with open(out_path(name, "md"), "w") as f:
        f.write(text)
    print(text)


def gnuplot(name, script):
    """Renders NAME-ACCEL.png; the script sees $out and the CSV as $csv."""
    full = (f"set terminal pngcairo size 900,520 font ',10'\nset output '{out_path(name, 'png')}'\n"
            f"set datafile separator ','\ncsv = '{out_path(name, 'csv')}'\n" + script)
    p = subprocess.run(["gnuplot"], input=full, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench paper: gnuplot failed for {name}: {p.stderr}")


def methods():
    ms = []
    wanted = os.environ.get("COMPSC_PAPER_METHODS")	# "pv,compsc", to run some only
    for m in (wanted.split(",") if wanted else ALL_METHODS):
        why = migrun.method_problem(m)
        if why:
            progress(f"{m}: not measured: {why}")
        else:
            ms.append(m)
    return ms


def service_recovered(r):
    """Whether the echo stream came back after the migration (compsc-off's
    does not): migrun's finding from the peer's buckets."""
    return bool(r.get("recovered"))


# ---- 1. throughput over time ------------------------------------------------

def exp_throughput(bed, ms):
    secs, at = (5, 2) if QUICK else (30, 10)
    rows, table = [], []
    for m in ms:
        progress(f"1 throughput: {m}, iperf 2 for {secs} s, migration at {at} s")
        r = migrun.run_migration(bed, m, load="tcp", secs=secs, at=at, iperf_interval=0.1)
        rep = r.get("report", {})
        t0 = r.get("t_start", 0)
        ivs = r.get("iperf", [])
        for a, b, bps in ivs:
            rows.append([m, f"{b - t0:.2f}", f"{bps / 1e6:.1f}"])
        start = rep.get("start-ns", 0) / 1e9 - t0
        before = [bps for a, b, bps in ivs if b - t0 <= start]
        after = [bps for a, b, bps in ivs if a - t0 >= start + 2]
        during = [bps for a, b, bps in ivs if start - 0.1 <= a - t0 <= start + 2]
        low = min(during) / 1e6 if during else None
        ok = r.get("iperf_exit") == 0 and bool(after) and min(after) > 0
        table.append([LABEL[m], migrun.fmt(statistics.mean(before) / 1e6 if before else None, "{:.0f}"),
                      migrun.fmt(low, "{:.0f}"), migrun.fmt(statistics.mean(after) / 1e6 if after else None, "{:.0f}"),
                      migrun.fmt(rep.get("downtime-ms")), "yes" if ok else "no (stalled or lost)"])
    write_csv("throughput", ["method", "t_s", "mbit_s"], rows)
    write_md("throughput", f"Throughput over time (iperf 2 TCP peer -> guest, migration at {at} s) [{ACCEL}]",
             ["method", "before, Mbit/s", "lowest 100 ms after the start, Mbit/s", "2 s after on, Mbit/s",
              "downtime, ms", "TCP connection survived"], table)
    plots = ", ".join(f"csv using (strcol(1) eq '{m}' ? $2 : 1/0):3 with lines lw 1.5 title '{LABEL[m]}'"
                      for m in ms)
    gnuplot("throughput", f"set title 'Throughput over time, migration at {at} s [{ACCEL}]'\n"
            "set xlabel 'time (s)'\nset ylabel 'Mbit/s (iperf 2, 100 ms intervals)'\nset key bottom right\n"
            f"set arrow from {at},graph 0 to {at},graph 1 nohead dt 2\nset yrange [0:*]\n"
            f"plot {plots}\n")


# ---- 2. downtime ---------------------------------------------------------------

def exp_downtime(bed, ms):
    runs = 1 if QUICK else 5
    rows, table = [], []
    for m in ms:
        res = []
        for i in range(runs):
            progress(f"2 downtime: {m}, run {i + 1}/{runs}")
            r = migrun.run_migration(bed, m, load="udp", secs=3 if QUICK else 6, at=1.2 if QUICK else 2.5)
            rec = service_recovered(r)
            res.append((r.get("downtime_ms"), r.get("service_downtime_ms"), r.get("total_ms"), rec))
            rows.append([m, i + 1, migrun.fmt(r.get("downtime_ms"), "{:.2f}"), migrun.fmt(r.get("service_downtime_ms"), "{:.2f}"),
                         migrun.fmt(r.get("total_ms"), "{:.1f}"), int(rec)])
        d = [x[0] for x in res if x[0] is not None]
        s = [x[1] for x in res if x[1] is not None]
        t = [x[2] for x in res if x[2] is not None]
        recovered = all(x[3] for x in res)
        table.append([LABEL[m], f"{migrun.fmt(migrun.median(d), '{:.2f}')} ({migrun.fmt(min(d) if d else None, '{:.2f}')}.."
                                f"{migrun.fmt(max(d) if d else None, '{:.2f}')})",
                      (f"{migrun.fmt(migrun.median(s))} ({migrun.fmt(min(s) if s else None)}..{migrun.fmt(max(s) if s else None)})" if recovered
                       else "never: the service did not come back"),
                      migrun.fmt(migrun.median(t))])
    write_csv("downtime", ["method", "run", "downtime_ms", "service_downtime_ms", "total_ms", "recovered"], rows)
    write_md("downtime", f"Downtime, median (min..max) of {runs} runs, UDP echo stream 2000/s [{ACCEL}]",
             ["method", "hypervisor downtime, ms", "service downtime (peer), ms", "total time, ms"], table,
             ["Hypervisor downtime: source pause to destination resume. Service downtime: the longest gap "
              "between echoes the peer received."])
    gnuplot("downtime", "set title 'Downtime per method (points: runs)'\nset ylabel 'ms'\nset logscale y\n"
            "set xtics (" + ", ".join(f"'{LABEL[m]}' {i}" for i, m in enumerate(ms)) + ")\n"
            f"set xrange [-0.5:{len(ms) - 0.5}]\nset key top left\n"
            "idx(m) = " + " : ".join(f"m eq '{m}' ? {i}" for i, m in enumerate(ms)) + " : 1/0\n"
            "plot csv using (idx(strcol(1)) - 0.1):($3 > 0 ? $3 : 1/0) with points pt 7 title 'hypervisor', "
            "csv using (idx(strcol(1)) + 0.1):($6 > 0 && $4 > 0 ? $4 : 1/0) with points pt 5 "
            "title 'service (peer)'\n")


# ---- 3. duplicated and missed packets -------------------------------------------

def exp_loss(bed, ms):
    loads = [("udp", "none"), ("tcp", "bulk TCP"), ("http", "HTTP (wrk)")]
    rows, table = [], []
    for m in ms:
        cells = [LABEL[m]]
        for load, name in loads:
            progress(f"3 loss: {m} under {name}")
            r = migrun.run_migration(bed, m, load=load, secs=3 if QUICK else 8, at=1.2 if QUICK else 3)
            e = r.get("echo", {})
            rows.append([m, load, e.get("sent"), e.get("missed"), e.get("duplicated"), e.get("reordered"),
                         int(service_recovered(r))])
            cells.append(f"{e.get('missed', '-')} / {e.get('duplicated', '-')}"
                         + ("" if service_recovered(r) else " (no recovery)"))
        table.append(cells)
    write_csv("loss", ["method", "load", "sent", "missed", "duplicated", "reordered", "recovered"], rows)
    write_md("loss", f"Missed / duplicated datagrams of a 2000/s UDP echo stream across one migration [{ACCEL}]",
             ["method"] + [f"load: {n}" for _, n in loads], table)
    gnuplot("loss", "set title 'Datagrams missed across one migration'\nset style data histogram\n"
            "set style histogram cluster gap 1\nset style fill solid 0.8 border -1\nset ylabel 'missed'\n"
            "set xtics (" + ", ".join(f"'{n}' {i}" for i, (_, n) in enumerate(loads)) + ")\n"
            "set logscale y\nset yrange [0.5:*]\nset boxwidth 0.18\n"
            "lidx(l) = " + " : ".join(f"l eq '{l}' ? {i}" for i, (l, _) in enumerate(loads)) + " : 1/0\n"
            "plot " + ", ".join(
                f"csv using (strcol(1) eq '{m}' ? lidx(strcol(2)) + {(j - (len(ms) - 1) / 2) * 0.2:.2f} : 1/0):"
                f"($4 + 0.5) with boxes title '{LABEL[m]}'" for j, m in enumerate(ms)) + "\n")


# ---- 4. overhead without migration ----------------------------------------------

def exp_overhead(bed, ms):
    rows, table = [], []
    for m in ms:
        progress(f"4 overhead: {m}")
        s = migrun.steady(bed, m, secs=3 if QUICK else 8)
        rows.append([m, migrun.fmt(s.get("tcp_mbit_s"), "{:.0f}"), migrun.fmt(s.get("udp_pps"), "{:.0f}"),
                     migrun.fmt(s.get("http_rps"), "{:.0f}")])
        table.append([LABEL[m]] + rows[-1][1:])
    write_csv("overhead", ["method", "tcp_mbit_s", "udp_echo_pps", "http_req_s"], rows)
    write_md("overhead", f"No migration: throughput per method [{ACCEL}]",
             ["method", "TCP peer->guest, Mbit/s", "UDP echo (60000/s offered), /s", "HTTP wrk, req/s"], table)
    base = rows[0]
    gnuplot("overhead", f"set title 'No migration, relative to {LABEL[ms[0]]}'\nset style fill solid 0.8 border -1\n"
            "set ylabel 'ratio'\nset yrange [0:*]\nset boxwidth 0.18\n"
            "set xtics ('TCP' 0, 'UDP echo' 1, 'HTTP' 2)\n"
            "plot " + ", ".join(
                f"csv using (strcol(1) eq '{m}' ? {k} + {(j - (len(ms) - 1) / 2) * 0.2:.2f} : 1/0):"
                f"(${k + 2} / {float(base[k + 1]) if base[k + 1] != '-' else 1}) with boxes "
                f"lc {j + 1} {'title ' + repr(LABEL[m]) if k == 0 else 'notitle'}"
                for j, m in enumerate(ms) for k in range(3)) + "\n")


# ---- 5. scaling ----------------------------------------------------------------

def exp_scaling(bed):
    mems = ["128M", "256M"] if QUICK else ["128M", "256M", "512M", "1G", "2G"]
    rates = [0, 2000] if QUICK else [0, 2000, 10000, 40000]
    rows = []
    for mem in mems:
        mib = int(mem[:-1]) * (1024 if mem.endswith("G") else 1)
        fill = mib * 3 // 8	# what the guest's heap allows (memload takes at most half of it)
        progress(f"5 scaling: compsc, {mem} guest, {fill} MiB written")
        r = migrun.run_migration(bed, "compsc", load="udp", secs=3 if QUICK else 5, at=1.5 if QUICK else 2.5,
                                 mem=mem, apps="echo,memload", guest_args=f"fill-mib={fill}")
        rep = r.get("report", {})
        rows.append(["memory", mib, migrun.fmt(r.get("downtime_ms"), "{:.2f}"), migrun.fmt(r.get("total_ms")),
                     len(rep.get("rounds", [])), rep.get("transferred-bytes")])
    for rate in rates:
        progress(f"5 scaling: compsc, 512M guest, dirtying {rate} pages/s")
        r = migrun.run_migration(bed, "compsc", load="udp", secs=3 if QUICK else 5, at=1.5 if QUICK else 2.5,
                                 mem="512M", apps="echo,memload",
                                 guest_args=f"fill-mib=128 dirty-rate={rate}")
        rep = r.get("report", {})
        rows.append(["dirty_rate", rate, migrun.fmt(r.get("downtime_ms"), "{:.2f}"), migrun.fmt(r.get("total_ms")),
                     len(rep.get("rounds", [])), rep.get("transferred-bytes")])
    write_csv("scaling", ["series", "x", "downtime_ms", "total_ms", "rounds", "bytes"], rows)
    write_md("scaling", f"CompSC: downtime and total time against memory and dirty rate [{ACCEL}]",
             ["series", "guest MiB / dirty pages/s", "downtime, ms", "total, ms", "rounds", "bytes sent"], rows,
             ["Memory series: 3/8 of the guest's RAM written before the migration. Dirty-rate series: a "
              "512 MiB guest, 128 MiB written, then pages rewritten at the rate."])
    gnuplot("scaling", "set multiplot layout 1,2 title 'CompSC scaling'\nset key top left\n"
            "set xlabel 'guest memory (MiB)'\nset ylabel 'ms'\nset logscale x 2\n"
            "plot csv using (strcol(1) eq 'memory' ? $2 : 1/0):4 with linespoints title 'total', "
            "csv using (strcol(1) eq 'memory' ? $2 : 1/0):3 with linespoints title 'downtime'\n"
            "unset logscale x\nset xlabel 'dirty rate (pages/s)'\n"
            "plot csv using (strcol(1) eq 'dirty_rate' ? $2 : 1/0):4 with linespoints title 'total', "
            "csv using (strcol(1) eq 'dirty_rate' ? $2 : 1/0):3 with linespoints title 'downtime'\n"
            "unset multiplot\n")


why = migrun.problem()
if why:
    print(f"bench paper: skipped: {why}")
    sys.exit(0)
os.makedirs(OUT, exist_ok=True)
t0 = time.monotonic()
with migrun.Bed("bpap") as bed:
    ms = methods()
    if 1 in ONLY:
        exp_throughput(bed, ms)
    if 2 in ONLY:
        exp_downtime(bed, ms)
    if 3 in ONLY:
        exp_loss(bed, ms)
    if 4 in ONLY:
        exp_overhead(bed, ms)
    if 5 in ONLY:
        exp_scaling(bed)
print(f"bench paper [{ACCEL}]: results in {OUT} ({time.monotonic() - t0:.0f} s)")
