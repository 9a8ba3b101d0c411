#!/usr/bin/env python3
"""Failure injection: until commitment the source VM is the VM. In every
case the source keeps running (its guest keeps printing, its control socket
answers) and the destination exits non-zero with a clear message - except
for a peer that never authenticated (a wrong token, junk): the destination
drops that connection and keeps listening (test_migration_security.py has
the rest of that). The hostile source speaks the stream with
--insecure-plaintext on both ends, so that its records reach the parsers
without Python needing the session keys."""
import hashlib
import hmac
import os
import socket
import struct

from harness import Tap, accel_in_use, accel_problem
from miglib import Api, Proxy, Vmm, crc32c, tmpdir

t = Tap()
CANCEL_STAGES = ["pre-migration", "reservation", "iterative-pre-copy", "stop-and-copy", "commitment"]
CASES = (["destination killed in iterative-pre-copy", "destination killed in stop-and-copy",
          "connection cut mid-stream", "connection black-holed (source times out)",
          "destination with the wrong memory size", "destination without a needed device",
          "wrong migration token"]
         + [f"cancel in {s}" for s in CANCEL_STAGES]
         + ["cancel when nothing is migrating is an error",
            "corrupted record (GCM tag)", "truncated stream"])
HOSTILE = ["hostile stream: bad magic (dropped, the destination keeps listening)", "hostile stream: unknown mandatory record type",
           "hostile stream: RAM outside guest memory", "hostile stream: record length past the limit",
           "hostile stream: non-canonical rip in the vCPU state (CPU_REGS / PROC_VCPU)"]
problem = accel_problem()
if problem:
    for c in CASES + HOSTILE:
        t.skip(c, problem)
    t.done()


def scenario(tmp, name, action, migrate=None, src_cmd="app=memcheck size=16 report-ms=200", src_extra=None,
             dst_extra=None, dst_mem="128M", expect_dst=None, expect_src=None, status="failed", proxy=None,
             dst_listens=False):
    a = Vmm(tmp, name + "-src", cmdline=src_cmd, extra=src_extra)
    b = Vmm(tmp, name + "-dst", incoming=True, mem=dst_mem, extra=dst_extra)
    px = None
    diag = ""
    try:
        a.wait_out(r"alive at", 10)
        port = b.port
        if proxy:
            px = Proxy(b.port, *proxy)
            port = px.port
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{port}", **(migrate or {}))
        extra_ok = action(a, b, api, px) if action else True
        fin = api.wait_final(40)
        if px:
            px.close()
        rc = b.wait_exit(2 if dst_listens else 15)
        st = Api(a.sock).cmd("status").get("return", {})
        alive = a.alive_after(5)
        ok = (rep == {"return": {}} and fin is not None and fin["status"] == status and extra_ok
              and alive and st.get("state") == "running" and a.p.poll() is None)
        ok = ok and (rc is None if dst_listens else rc not in (None, 0))
        if ok and expect_src:
            ok = expect_src in fin.get("error", "")
        if ok and expect_dst:
            ok = (dst_listens or rc == 4) and b.wait_err(expect_dst, 1) is not None
        diag = f"reply {rep}\nfinal {fin}\nstatus {st}\nalive {alive} dst rc {rc}\n{a.log()}{b.log()}"
        return ok, diag
    finally:
        if px:
            px.close()
        a.stop()
        b.stop()


def kill_in(stage):
    def act(a, b, api, px):
        ok = api.wait_stage(stage, 20) is not None
        b.kill()
        return ok
    return act


def cancel_in(stage):
    def act(a, b, api, px):
        ok = api.wait_stage(stage, 20) is not None
        r = api.cmd("migrate-cancel")
        return ok and r == {"return": {}}
    return act


with tmpdir() as tmp:
    ok, d = scenario(tmp, "k1", kill_in("iterative-pre-copy"), {"bandwidth": "20M"},
                     src_cmd="app=dirty rate=5000 size=48 report-ms=200", expect_src="")
    t.ok(ok, CASES[0], d)
    ok, d = scenario(tmp, "k2", kill_in("stop-and-copy"), {"stall-stage": "stop-and-copy", "stall-ms": 1500})
    t.ok(ok, CASES[1], d)
    ok, d = scenario(tmp, "cut", None, proxy=("cut", 3 << 20),
                     expect_dst=r"incoming migration failed during .*(closed the connection|Connection reset)")
    t.ok(ok, CASES[2], d)

    def blackhole(a, b, api, px):
        fin = api.wait_final(20)
        return fin is not None and "timed out" in fin.get("error", "")
    ok, d = scenario(tmp, "bh", blackhole, {"timeout-ms": 1000}, proxy=("blackhole", 3 << 20))
    t.ok(ok, CASES[3], d)
    ok, d = scenario(tmp, "mem", None, dst_mem="64M", expect_src="memory size differs",
                     expect_dst=r"failed during reservation: memory size differs: source 128 MiB, destination 64 MiB")
    t.ok(ok, CASES[4], d)
    ok, d = scenario(tmp, "dev", None, src_extra=["--test-device", "1"], expect_src="device 'testdev'",
                     expect_dst=r"failed during reservation: device 'testdev' .* missing on the destination")
    t.ok(ok, CASES[5], d)
    other = os.path.join(tmp, "other-secret")
    with open(other, "w") as f:
        f.write("other-secret\n")
    os.chmod(other, 0o600)
    ok, d = scenario(tmp, "tok", None, dst_extra=["--migration-token-file", other], dst_listens=True,
                     expect_src="authentication failed",
                     expect_dst=r"dropped the connection .*authentication failed.*still listening")
    t.ok(ok, CASES[6], d)
    for i, stage in enumerate(CANCEL_STAGES):
        # Cancelled before authentication: the destination never had a
        # source, it drops the connection and keeps listening.
        early = stage == "pre-migration"
        ok, d = scenario(tmp, f"c{i}", cancel_in(stage), {"stall-stage": stage, "stall-ms": 3000},
                         status="cancelled", dst_listens=early,
                         expect_dst=(r"dropped the connection .*the source cancelled the migration.*still listening"
                                     if early else r"the source cancelled the migration"))
        t.ok(ok, CASES[7 + i], d)

    a = Vmm(tmp, "nocancel")
    try:
        r = Api(a.sock).cmd("migrate-cancel")
        t.ok("error" in r and "no outgoing migration" in r["error"]["desc"], CASES[12], r)
    finally:
        a.stop()
    ok, d = scenario(tmp, "crc", None, proxy=("corrupt", 2 << 20), expect_src="fails authentication",
                     expect_dst=r"bad stream: record RAM .*fails authentication")
    t.ok(ok, CASES[13], d)
    ok, d = scenario(tmp, "trunc", None, proxy=("truncate", (3 << 20) + 77),
                     expect_dst=r"incoming migration failed during iterative-pre-copy: .*(truncated|closed the connection)")
    t.ok(ok, CASES[14], d)


# ---- a hostile source speaking the protocol from Python ------------------------------

def rec(rtype, body, flags=1, length=None):
    hdr = struct.pack("<HHI", rtype, flags, len(body) if length is None else length)
    return hdr + body + struct.pack("<I", crc32c(hdr + body))


def read_rec(s):
    def need(n):
        buf = b""
        while len(buf) < n:
            c = s.recv(n - len(buf))
            if not c:
                raise EOFError
            buf += c
        return buf
    rtype, flags, length = struct.unpack("<HHI", need(8))
    body = need(length)
    need(4)
    return rtype, body


PLATFORM_STATE_VERSION = 2	# vmm/platform.c


def hostile(tmp, name, payload, expect):
    b = Vmm(tmp, name, incoming=True, extra=["--insecure-plaintext"])
    try:
        s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
        if payload is None:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        else:
            ns = os.urandom(16)
            flags = struct.pack("<I", 1)	# PLAINTEXT
            s.sendall(b"CSCMIGR\n" + struct.pack("<II", 2, 0))
            s.sendall(rec(0x0001, ns + struct.pack("<I", 4096) + flags))
            s.recv(16)
            _, ack = read_rec(s)
            nd = ack[:16]
            mac = hmac.new(os.environ["COMPSC_MIGRATION_TOKEN"].encode(), b"compsc-mig-source" + ns + nd + flags,
                           hashlib.sha256).digest()
            s.sendall(rec(0x0003, mac))
            vcpu = f"vcpu-{accel_in_use()}".encode()
            # RAM, vCPUs, 2 devices, CPUID words (none: any destination has them all)
            s.sendall(rec(0x0004, struct.pack("<QII", 128 << 20, 1, 2) + b"\0" * 36 + b"platform".ljust(32, b"\0")
                          + struct.pack("<I", PLATFORM_STATE_VERSION) + vcpu.ljust(32, b"\0")
                          + struct.pack("<I", 1)))
            read_rec(s)
            s.sendall(rec(0x0010, struct.pack("<I", 0)) + payload)
        if payload is None:	# not a source: dropped, still listening
            return b.wait_err(expect, 5) is not None and b.wait_exit(1) is None, b.log()
        rc = b.wait_exit(10)
        return rc == 4 and b.wait_err(expect, 1) is not None, b.log()
    finally:
        b.stop()


with tmpdir() as tmp:
    ok, d = hostile(tmp, "h0", None, r"dropped the connection .*bad stream: bad stream magic.*still listening")
    t.ok(ok, HOSTILE[0], d)
    ok, d = hostile(tmp, "h1", rec(0x7777, b"x" * 10), r"unknown mandatory record type 0x7777")
    t.ok(ok, HOSTILE[1], d)
    ok, d = hostile(tmp, "h2", rec(0x0011, struct.pack("<QII", (128 << 20) - 4096, 2, 0) + b"\1" * 8192),
                    r"lie outside guest RAM")
    t.ok(ok, HOSTILE[2], d)
    ok, d = hostile(tmp, "h3", rec(0x0011, b"", length=0xfffffff0), r"claims 4294967280 bytes")
    t.ok(ok, HOSTILE[3], d)
    if accel_in_use() == "proc":
        # The proc accelerator's vCPU record: id, version, 18 registers
        # (rsp, rip at 15, 16), the FXSAVE image, the interrupt counters.
        regs = struct.pack("<18Q", *([0] * 15 + [0x1000, 0x8000000000000000, 2]))
        body = struct.pack("<II", 0, 1) + regs + b"\0" * 416 + struct.pack("<QQ", 0, 0)
        ok, d = hostile(tmp, "h4", rec(0x0029, body), r"outside user space")
    else:
        regs = struct.pack("<18Q", *([0] * 16 + [0x8000000000000000, 2]))
        ok, d = hostile(tmp, "h4", rec(0x0021, struct.pack("<II", 0, 0) + regs), r"not canonical")
    t.ok(ok, HOSTILE[4], d)

t.done()
