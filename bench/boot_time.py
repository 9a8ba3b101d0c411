#!/usr/bin/env python3
"""Boot and exit latency of compsc-vmm, median of 10 runs.

  start -> guest main : from just before the VMM process is spawned to the
                        guest's MAIN mark (written at ring 3 when main()
                        starts; timestamped by the VMM on CLOCK_MONOTONIC)
  guest exit -> exit  : from the guest's EXIT register write to the VMM
                        process having exited (waitpid returned)
Both clocks are CLOCK_MONOTONIC (Python's time.monotonic_ns is the same).
"""
import os
import re
import statistics
import subprocess
import sys
import time

build = os.environ.get("COMPSC_BUILD", "build")
vmm = os.path.join(build, "vmm", "compsc-vmm")
guest = os.path.join(build, "guest", "compsc-guest.elf")
RUNS = 10


def one(mem):
    t0 = time.monotonic_ns()
    p = subprocess.Popen([vmm, "--guest", guest, "--mem", mem, "--timing", "--cmdline", "app=hello"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    t_end = time.monotonic_ns()
    m = re.search(r"timing: start_ns=(\d+) main_ns=(\d+) exit_request_ns=(\d+)", err)
    if p.returncode != 0 or not m:
        sys.exit(f"boot_time: run failed (status {p.returncode}): {err}")
    start, main, exit_req = map(int, m.groups())
    return (main - t0) / 1e6, (t_end - exit_req) / 1e6, (main - start) / 1e6


print(f"bench boot_time [{os.environ.get('COMPSC_ACCEL') or 'auto'}]: compsc-vmm start to guest main and guest exit to process exit, median of {RUNS}")
print(f"{'guest RAM':>10} {'start->main ms':>15} {'(in-process ms)':>16} {'exit->exit ms':>14}  {'min..max start->main':>22}")
for mem in ("256M", "1G"):
    samples = [one(mem) for _ in range(RUNS)]
    s2m = [s[0] for s in samples]
    e2e = [s[1] for s in samples]
    inproc = [s[2] for s in samples]
    print(f"{mem:>10} {statistics.median(s2m):15.2f} {statistics.median(inproc):16.2f} "
          f"{statistics.median(e2e):14.2f}  {min(s2m):10.2f}..{max(s2m):.2f}")
