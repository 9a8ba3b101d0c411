#!/usr/bin/env python3
"""The soak, short (bench/soak.py runs 50): a VF VM migrates A <-> B six
times under one iperf 2 connection (2 Mbit/s) and a UDP echo stream. Every migration
completes; neither host's compsc-nic grows in file descriptors (end ==
after two warm-up moves) nor in RSS beyond 2 MiB; the peer misses and
duplicates no datagram; the TCP connection survives."""
import os
import sys

from harness import Tap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import migrun  # noqa: E402
import soakrun  # noqa: E402

t = Tap()
N = int(os.environ.get("COMPSC_SOAK_N", "6"))
CHECKS = [
    f"{N} CompSC migrations A <-> B under iperf 2 and UDP: all completed",
    "host A's compsc-nic: file descriptors at the end == after warm-up",
    "host B's compsc-nic: file descriptors at the end == after warm-up",
    "host A's compsc-nic: RSS grew less than 2 MiB after warm-up",
    "host B's compsc-nic: RSS grew less than 2 MiB after warm-up",
    "UDP echo stream over the whole soak: 0 missed, 0 duplicated",
    "the guest's TCP stream intact: iperf exit 0 with its whole-run line",
]
KEYS = ["migrations", "hostA NIC fds", "hostB NIC fds", "hostA NIC RSS", "hostB NIC RSS", "UDP echo", "TCP"]
problem = migrun.problem()
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

with migrun.Bed("soak") as bed:
    # iperf at 2 Mbit/s: frames arriving during a downtime are held in a
    # queue bounded by one DEVICE record (64 KiB, some 45 full-size frames);
    # at 200 Mbit/s (bench/soak.py) it overflows and UDP datagrams go with
    # the TCP segments it drops. This test asks for zero loss, so it stays
    # under that bound; the bench shows the figures at full load.
    res = soakrun.soak(bed, n=N, warmup=2, period=2.5, iperf_bw="2M")
print("\n".join("# " + line for line in soakrun.table(res, "soak").splitlines()))
s = soakrun.summary(res)
diag = "\n".join(res["errors"]) + "\n" + (res.get("iperf_out") or "")[-1500:] + (res.get("peer_out") or "")
for c, k in zip(CHECKS, KEYS):
    if s[k][0] is None:
        t.skip(c, "compsc-nic runs under AddressSanitizer, whose quarantine keeps freed memory: RSS says "
               "nothing about leaks there (the fd checks still do)")
    else:
        t.ok(s[k][0], c, s[k][1] + "\n" + diag)
t.done()
