#!/usr/bin/env python3
"""Migration benchmark: downtime and total time for 128 MiB, 512 MiB and
2 GiB guests, idle (memory filled, then verified now and then) and with
the dirtying app at two rates; the pre-copy transfer rate of round 0
compared with plain loopback TCP copies of the same number of bytes in the
same run:

  loopback   one stream into a reused 1 MiB buffer (the copy alone)
  fresh      one stream into memory the receiver never touched before, as a
             destination's guest RAM is (the copy plus first-touch page
             faults, which a virtualised host makes expensive)

Round 0 ends when the destination has the pages in guest memory (SYNC),
not when the source's last send returned. Then, for the idle guests, the
total time per GiB of guest RAM (linear growth = a constant). Last, the
cost of encryption: the same VM (1 GiB, 384 MiB of it filled) migrated
with the stream sealed (AES-256-GCM, the default) and with
--insecure-plaintext on both sides, in the same run, alternately, three
times each; the best of each and their ratio. Prints tables. Run by `make
bench`; `bench/migration.py --encryption` runs only the last part."""
import mmap
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
BUILD = os.environ.get("COMPSC_BUILD", "build")
os.environ.setdefault("COMPSC_VMM", os.path.join(BUILD, "vmm", "compsc-vmm"))
os.environ.setdefault("COMPSC_GUEST", os.path.join(BUILD, "guest", "compsc-guest.elf"))
import harness  # noqa: E402
harness.VMM = os.environ["COMPSC_VMM"]
harness.GUEST = os.environ["COMPSC_GUEST"]
import miglib  # noqa: E402
miglib.VMM, miglib.GUEST = harness.VMM, harness.GUEST
from miglib import Api, Vmm, tmpdir  # noqa: E402


def loopback_rate(nbytes, fresh=False):
    """Bytes/s of a plain TCP copy of nbytes over loopback (one stream),
    received into a reused buffer or, with fresh, into new memory."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    got = [0]

    def sink():
        c, _ = ls.accept()
        buf = bytearray(1 << 20)
        dst = memoryview(mmap.mmap(-1, nbytes)) if fresh else None
        while True:
            n = c.recv_into(dst[got[0]:got[0] + (1 << 20)] if fresh else buf)
            if not n:
                break
            got[0] += n
        c.close()
        if dst is not None:
            dst.release()
    th = threading.Thread(target=sink)
    th.start()
    s = socket.create_connection(("127.0.0.1", ls.getsockname()[1]))
    chunk = memoryview(os.urandom(1 << 22))
    t0 = time.perf_counter()
    left = nbytes
    while left > 0:
        n = min(left, len(chunk))
        s.sendall(chunk[:n])
        left -= n
    s.close()
    th.join()
    dt = time.perf_counter() - t0
    ls.close()
    return got[0] / dt


def one(tmp, name, mem, cmdline, fill_mib, extra=None):
    a = Vmm(tmp, name + "-a", mem=mem, cmdline=cmdline, extra=extra)
    b = Vmm(tmp, name + "-b", mem=mem, incoming=True, extra=extra)
    try:
        if not a.wait_out(r"(memcheck|dirty): .* filled|panic", 120) or a.wait_out("panic", 0):
            return None, a.log()
        time.sleep(1.0)
        # The same copy while the guest runs its workload: a dirtying
        # guest spins a vCPU, which takes one of the host's cores from
        # the migration as much as from this copy.
        beside = loopback_rate(fill_mib << 20)
        api = Api(a.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}", **{"downtime-ms": 300})
        fin = api.wait_final(300)
        if not fin or fin["status"] != "completed":
            return None, f"{fin}\n{a.log()}{b.log()}"
        if not b.wait_out(r"migrated \(generation 1\): \d+ pages verified, 0 bad", 60):
            return None, "guest verification failed\n" + b.log()
        fin["beside"] = beside
        return fin, ""
    finally:
        a.stop()
        b.stop()


def encryption_cost():
    """The same VM migrated sealed and plaintext, alternately; prints each
    mode's best total time and round-0 throughput and the ratios."""
    runs = {"encrypted": [], "plaintext": []}
    failed = False
    with tmpdir() as tmp:
        for rep in range(3):
            for mode, extra in (("encrypted", None), ("plaintext", ["--insecure-plaintext"])):
                fin, diag = one(tmp, f"enc{rep}-{mode}", "1G", "app=memcheck size=384 report-ms=5000", 384,
                                extra)
                if not fin:
                    print(f"encryption {mode}: FAILED\n{diag}", file=sys.stderr)
                    failed = True
                    continue
                r0 = fin["rounds"][0]
                runs[mode].append((fin["total-time-ms"], r0["bytes"] / (r0["ms"] / 1000) if r0["ms"] else 0,
                                   fin["transferred-bytes"], fin.get("downtime-ms", 0)))
    print(f"bench migration encryption [{os.environ.get('COMPSC_ACCEL') or 'auto'}]: the same VM (1 GiB, "
          f"memcheck 384 MiB) migrated sealed (AES-256-GCM, default) and with --insecure-plaintext, "
          f"alternately, best of {len(runs['encrypted'])} and {len(runs['plaintext'])}")
    print(f"{'stream':<10} {'total ms':>9} {'round0 MiB/s':>12} {'sent MiB':>9} {'downtime ms':>11}")
    best = {}
    for mode, rs in runs.items():
        if not rs:
            print(f"{mode:<10} FAILED")
            continue
        total = min(r[0] for r in rs)
        rate = max(r[1] for r in rs)
        best[mode] = (total, rate)
        sent = rs[0][2]
        print(f"{mode:<10} {total:>9.0f} {rate / 2**20:>12.0f} {sent / 2**20:>9.1f} {min(r[3] for r in rs):>11.1f}")
    if len(best) == 2 and best["plaintext"][0] and best["plaintext"][1]:
        print(f"encrypted / plaintext: total time x{best['encrypted'][0] / best['plaintext'][0]:.2f}, "
              f"round-0 throughput x{best['encrypted'][1] / best['plaintext'][1]:.2f}")
    return 1 if failed else 0


def main():
    if "--encryption" in sys.argv[1:]:
        return encryption_cost()
    sizes = [("128M", 32), ("512M", 128), ("2G", 512)]
    loads = [("idle", None), ("dirty 5k pg/s", 5000), ("dirty 50k pg/s", 50000)]
    rows = []
    with tmpdir() as tmp:
        for mem, fill in sizes:
            for lname, rate in loads:
                if rate is None:
                    cmd = f"app=memcheck size={fill} report-ms=5000"
                else:
                    cmd = f"app=dirty rate={rate} size={min(fill, 256)} report-ms=5000"
                fin, diag = one(tmp, f"{mem}-{rate}", mem, cmd, fill if rate is None else min(fill, 256))
                if not fin:
                    print(f"{mem} {lname}: FAILED\n{diag}", file=sys.stderr)
                    rows.append((mem, lname, None))
                    continue
                r0 = fin["rounds"][0]
                mig_rate = r0["bytes"] / (r0["ms"] / 1000) if r0["ms"] else 0
                base = loopback_rate(r0["bytes"])
                fresh = loopback_rate(r0["bytes"], fresh=True)
                rows.append((mem, lname, fin, mig_rate, base, fresh))
    print(f"bench migration [{os.environ.get('COMPSC_ACCEL') or 'auto'}]: live migration, source and destination on one host (loopback TCP)")
    print(f"{'RAM':>5} {'workload':<15} {'total ms':>9} {'downtime ms':>11} {'rounds':>6} {'sent MiB':>9} "
          f"{'round0 MiB/s':>12} {'loopback MiB/s':>14} {'ratio':>6} {'fresh MiB/s':>11} {'ratio':>6} "
          f"{'beside MiB/s':>12} {'ratio':>6} "
          f"{'dirty pg/s':>10}")
    for row in rows:
        mem, lname, fin = row[:3]
        if not fin:
            print(f"{mem:>5} {lname:<15} FAILED")
            continue
        mig_rate, base, fresh = row[3], row[4], row[5]
        print(f"{mem:>5} {lname:<15} {fin['total-time-ms']:>9.0f} {fin.get('downtime-ms', 0):>11.1f} "
              f"{len(fin['rounds']):>6} {fin['transferred-bytes'] / 2**20:>9.1f} {mig_rate / 2**20:>12.0f} "
              f"{base / 2**20:>14.0f} {mig_rate / base if base else 0:>6.2f} {fresh / 2**20:>11.0f} "
              f"{mig_rate / fresh if fresh else 0:>6.2f} {fin['beside'] / 2**20:>12.0f} "
              f"{mig_rate / fin['beside'] if fin['beside'] else 0:>6.2f} {fin['dirty-rate-pages-per-s']:>10}")
    print("round0 = the first pre-copy round (all RAM; never-touched pages sent as zero runs), until the"
          " destination has it; loopback = one Python TCP stream copying the same bytes in this run into a"
          " reused buffer; fresh = the same into never-touched memory; beside = the reused-buffer copy of the"
          " guest's filled memory, measured while the source guest ran its workload, before the migration.")
    print()
    print(f"{'RAM':>5} {'idle: total ms':>14} {'ms per GiB RAM':>14} {'reservation ms':>14} {'pre-copy ms':>11}"
          f" {'commitment ms':>13}")
    for row in rows:
        mem, lname, fin = row[:3]
        if not fin or lname != "idle":
            continue
        st = fin.get("stage-ms", {})
        gib = fin["ram-bytes"] / 2**30
        print(f"{mem:>5} {fin['total-time-ms']:>14.0f} {fin['total-time-ms'] / gib:>14.0f} "
              f"{st.get('reservation', 0):>14.0f} {st.get('iterative-pre-copy', 0):>11.0f} "
              f"{st.get('commitment', 0):>13.1f}")
    print()
    enc = encryption_cost()
    return 0 if all(r[2] for r in rows) and enc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
