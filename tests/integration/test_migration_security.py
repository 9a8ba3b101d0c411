#!/usr/bin/env python3
"""The migration stream against someone on the path, and the destination
against peers that are not a source (docs/migration-stream.md "Record
protection", "Who may connect to --incoming").

A man in the middle (miglib.RecordProxy) sits between source and
destination and acts on records: it flips a byte of guest memory, drops a
RAM record, replays one, forges a COMMIT while holding back READY, forges a
refusal in HELLO_ACK. Where the stream is plaintext it fixes up the CRC and
the page count in END, as anybody on the path could; sealed, it cannot. In
each case the migration fails, the source VM keeps running (its guest
prints, its control socket says "running") and the destination does not
run the VM: never two copies. Then: what the wire shows of guest memory
encrypted and with --insecure-plaintext, that HELLO says nothing about the
VM, that both sides must agree on --insecure-plaintext, and that junk, a
slow peer and a wrong token neither kill nor block an incoming VMM, which
accepts exactly one authenticated source."""
import os
import socket
import struct
import time

from harness import Tap, accel_problem
from miglib import D2S, REC, S2D, Api, RecordProxy, Vmm, forged, tmpdir

t = Tap()
MITM = ["MITM flips a byte in a RAM record (CRC fixed up): refused, source runs, no copy at the destination",
        "MITM drops a RAM record (END fixed up): refused, source runs, no copy at the destination",
        "MITM replays a RAM record (END fixed up): refused, source runs, no copy at the destination",
        "MITM forges COMMIT and holds back READY: refused, source runs, no copy at the destination",
        "MITM forges a refusal in HELLO_ACK: the source sees a bad MAC, not the forged reason; "
        "source runs, the destination keeps listening",
        "MITM forges READY and swallows the real answer and COMMIT (the VM would be lost): refused, "
        "source runs, no copy at the destination"]
WIRE = ["encrypted (default): migration completes, no guest memory pattern on the wire",
        "--insecure-plaintext on both sides: migration completes, the guest memory pattern is on the wire",
        "HELLO says nothing about the VM (24 bytes: nonce, page size, flags; no CPUID before AUTH)",
        "--insecure-plaintext on the source only: refused in the handshake, clearly; the destination keeps "
        "listening",
        "--insecure-plaintext on the destination only: refused in the handshake, clearly"]
DOOR = ["junk connection: dropped and logged, the destination keeps listening",
        "slow half-open connection trickling bytes: dropped at the handshake deadline",
        "a real source migrates after junk and while a slow peer holds a connection",
        "only one authenticated source: the port is closed once one has authenticated",
        "wrong token: the source fails, the destination drops it and a right source then migrates",
        "--incoming-timeout-ms: no source authenticated in time: exit 4 with the reason, not before"]
problem = accel_problem()
if problem:
    for c in MITM + WIRE + DOOR:
        t.skip(c, problem)
    t.done()

MEMCHECK = "app=memcheck size=16 report-ms=200"
PLAIN = ["--insecure-plaintext"]
M64 = (1 << 64) - 1


def pattern(page, ver, i):
    """guest/apps/memcheck.c pattern(): word i of buffer page `page`."""
    x = (((page + 1) * 0x9E3779B97F4A7C15) & M64) ^ ((ver << 32) & M64) ^ ((i * 0xD6E8FEB86659FD93) & M64)
    return x ^ (x >> 29)


# 64 bytes of memcheck's page 100 (version 1, as filled): on the wire only in the clear.
SECRET = b"".join(struct.pack("<Q", pattern(100, 1, i)) for i in range(2, 10))


def is_data_ram(rec):
    return rec.type == REC["RAM"] and rec.length > 16


def patch_end(rec, delta):
    """END's page count moved by delta: only possible in the clear."""
    if rec.sealed:
        return [rec.raw]
    pages, records = struct.unpack("<QQ", rec.body)
    return [rec.rebuilt(struct.pack("<QQ", pages + delta, records))]


def flip(px, rec):
    if rec.direction == S2D and is_data_ram(rec) and not px.state.get("done"):
        px.state["done"] = True
        body = bytearray(rec.body)
        body[16 + 100] ^= 0x01		# a bit of guest memory, not the RAM header
        return [rec.rebuilt(bytes(body))]
    return [rec.raw]


def drop(px, rec):
    if rec.direction == S2D and is_data_ram(rec) and "count" not in px.state:
        px.state["count"] = struct.unpack_from("<I", rec.body, 8)[0] if not rec.sealed else 0
        return []
    if rec.direction == S2D and rec.type == REC["END"] and px.state.get("count"):
        return patch_end(rec, -px.state["count"])
    return [rec.raw]


def replay(px, rec):
    if rec.direction == S2D and is_data_ram(rec) and "count" not in px.state:
        px.state["count"] = struct.unpack_from("<I", rec.body, 8)[0] if not rec.sealed else 0
        return [rec.raw, rec.raw]
    if rec.direction == S2D and rec.type == REC["END"] and px.state.get("count"):
        return patch_end(rec, px.state["count"])
    return [rec.raw]


def forge_commit(px, rec):
    if rec.direction == D2S and rec.type == REC["READY"]:
        px.state["held"] = True
        px.send(S2D, forged(REC["COMMIT"], b"", rec.sealed))
        return []
    return [rec.raw]


def forge_ready(px, rec):
    """A READY the destination never sent, as soon as END has passed; the
    destination's own answer and the source's COMMIT never arrive. Believed,
    the source lets go and the destination never runs the VM: lost."""
    if rec.direction == S2D and rec.type == REC["END"]:
        px.state["forged"] = True
        px.send(D2S, forged(REC["READY"], struct.pack("<iI", 0, 0), rec.sealed))
    elif px.state.get("forged") and rec.type in (REC["READY"], REC["COMMIT"]):
        return []
    return [rec.raw]


def forge_refusal(px, rec):
    if rec.direction == D2S and rec.type == REC["HELLO_ACK"]:
        reason = b"forged refusal"
        return [rec.rebuilt(rec.body[:48] + struct.pack("<iI", -13, len(reason)) + reason)]
    return [rec.raw]


def migrate_through(tmp, name, on_record=None, src_extra=None, dst_extra=None, migrate=None, capture=False,
                    check=None):
    """Source (memcheck) -> proxy -> destination. check(a, b, api, fin, px)
    runs before both are stopped and returns (ok, diag)."""
    a = Vmm(tmp, name + "-src", cmdline=MEMCHECK, extra=src_extra)
    b = Vmm(tmp, name + "-dst", incoming=True, extra=dst_extra)
    px = None
    try:
        a.wait_out(r"memcheck: .* filled", 20)
        px = RecordProxy(b.port or 1, on_record, capture=capture)
        try:
            api = Api(a.sock)
            rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{px.port}", **(migrate or {}))
            fin = api.wait_final(60)
            ok, diag = check(a, b, api, fin, px)
        except (OSError, EOFError, ValueError) as e:	# a VMM that is not there
            rep = fin = None
            ok, diag = False, repr(e)
        return ok and rep == {"return": {}}, (f"reply {rep}\nfinal {fin}\nproxy {px.error} "
                                              f"{px.records[S2D][:6]} {px.records[D2S][:6]}\n{diag}\n"
                                              f"{a.log()}{b.log()}")
    finally:
        if px:
            px.close()
        a.stop()
        b.stop()


def source_kept(a):
    """The source VM is the VM: its control socket says running, its guest prints."""
    try:
        st = Api(a.sock).cmd("status").get("return", {})
    except (OSError, EOFError, ValueError) as e:	# gone: the VM left it
        return False, f"control socket: {e!r}, exit {a.p.poll()}"
    return a.p.poll() is None and st.get("state") == "running" and a.alive_after(5), st


def refused_at_destination(expect_src):
    def check(a, b, api, fin, px):
        rc = b.wait_exit(20)
        kept, st = source_kept(a)
        ok = (fin is not None and fin["status"] == "failed" and expect_src in fin.get("error", "")
              and kept and rc not in (None, 0) and b.wait_err(r"incoming migration failed", 1) is not None)
        return ok, f"dst rc {rc} source status {st}"
    return check


with tmpdir() as tmp:
    sealed = "fails authentication"
    for i, (fn, mig) in enumerate([(flip, None), (drop, None), (replay, None), (forge_commit, {"timeout-ms": 1500})]):
        ok, d = migrate_through(tmp, f"mitm{i}", fn, migrate=mig, check=refused_at_destination(sealed))
        t.ok(ok, MITM[i], d)

    def refusal_check(a, b, api, fin, px):
        kept, st = source_kept(a)
        err = (fin or {}).get("error", "")
        try:
            dst = Api(b.sock).cmd("status").get("return", {})
        except (OSError, EOFError, ValueError) as e:
            dst = {"error": repr(e)}
        ok = (fin is not None and fin["status"] == "failed" and "HELLO_ACK does not verify" in err
              and "forged refusal" not in err and kept and b.p.poll() is None
              and dst.get("migration", {}).get("status") == "listening"
              and b.wait_err(r"dropped the connection from 127\.0\.0\.1:\d+: .*; still listening", 5) is not None)
        return ok, f"source status {st} destination {dst}"
    ok, d = migrate_through(tmp, "mitm-ack", forge_refusal, check=refusal_check)
    t.ok(ok, MITM[4], d)
    ok, d = migrate_through(tmp, "mitm-ready", forge_ready, migrate={"timeout-ms": 1500},
                            check=refused_at_destination(sealed))
    t.ok(ok, MITM[5], d)

    # ---- what the wire carries ----
    def completed(want_secret):
        def check(a, b, api, fin, px):
            done = fin is not None and fin["status"] == "completed"
            verified = b.wait_out(r"migrated \(generation 1\): \d+ pages verified, 0 bad", 20) is not None
            seen = bytes(px.seen[S2D])
            return (done and verified and len(seen) > (16 << 20) and (SECRET in seen) == want_secret,
                    f"{len(seen)} bytes seen, pattern {'found' if SECRET in seen else 'absent'}")
        return check
    hello = {}

    def keep_hello(a, b, api, fin, px):
        seen = bytes(px.seen[S2D])
        hello["hdr"] = struct.unpack_from("<HHI", seen, 16)
        hello["next"] = struct.unpack_from("<HHI", seen, 16 + 8 + hello["hdr"][2] + 4)
        return completed(False)(a, b, api, fin, px)
    ok, d = migrate_through(tmp, "wire-enc", capture=True, check=keep_hello)
    t.ok(ok, WIRE[0], d)
    ok, d = migrate_through(tmp, "wire-plain", capture=True, src_extra=PLAIN, dst_extra=PLAIN,
                            check=completed(True))
    t.ok(ok, WIRE[1], d)
    t.ok(hello.get("hdr") == (REC["HELLO"], 1, 24) and hello.get("next", (0,))[0] == REC["AUTH"], WIRE[2],
         f"HELLO header {hello.get('hdr')}, then {hello.get('next')}")

    def mismatch(expect, dst_listening):
        def check(a, b, api, fin, px):
            kept, st = source_kept(a)
            err = (fin or {}).get("error", "")
            ok = fin is not None and fin["status"] == "failed" and expect in err and kept
            if dst_listening:
                ok = ok and b.p.poll() is None and b.wait_err(r"dropped the connection .*stream protection "
                                                              r"differs", 5) is not None
            return ok, f"source status {st}"
        return check
    ok, d = migrate_through(tmp, "mode-src", src_extra=PLAIN,
                            check=mismatch("the destination refused: stream protection differs: the source runs "
                                           "with --insecure-plaintext, the destination encrypted", True))
    t.ok(ok, WIRE[3], d)
    ok, d = migrate_through(tmp, "mode-dst", dst_extra=PLAIN,
                            check=mismatch("stream protection differs: the source runs encrypted", False))
    t.ok(ok, WIRE[4], d)


# ---- the destination's door -----------------------------------------------------------

def trickle(port, stop_after):
    """Connects and sends the start of a well-formed stream (preamble,
    HELLO) a byte at a time, one every 200 ms: never idle long, never
    done. Returns the socket and whether the destination closed it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    hello = struct.pack("<HHI", 1, 1, 24) + bytes(16) + struct.pack("<II", 4096, 0)
    data = b"CSCMIGR\n" + struct.pack("<II", 2, 0) + hello + b"\0\0\0\0"
    end = time.time() + stop_after
    closed = False
    for i in range(len(data)):
        if time.time() > end:
            break
        try:
            s.sendall(data[i:i + 1])
            s.settimeout(0.2)
            if s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    return s, closed


with tmpdir() as tmp:
    a = Vmm(tmp, "door-src", cmdline=MEMCHECK)
    b = Vmm(tmp, "door-dst", incoming=True, extra=["--migration-handshake-ms", "1500"])
    first = t.count
    try:
        a.wait_out(r"memcheck: .* filled", 20)
        j = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        j.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            j.settimeout(5)
            junk_closed = j.recv(100) == b""
        except OSError:
            junk_closed = True
        j.close()
        time.sleep(0.3)
        t.ok(junk_closed and b.p.poll() is None and
             b.wait_err(r"dropped the connection from 127\.0\.0\.1:\d+: bad stream: bad stream magic.*still "
                        r"listening", 5) is not None, DOOR[0], b.log())
        t0 = time.time()
        s, closed = trickle(b.port, 6)
        took = time.time() - t0
        s.close()
        t.ok(closed and 1.2 < took < 3.5 and b.p.poll() is None and
             b.wait_err(r"dropped the connection .*timed out.*handshake deadline", 2) is not None,
             DOOR[1], f"closed {closed} after {took:.1f} s\n{b.log()}")
        # A slow peer holds the door while the real source arrives: the
        # source waits in the backlog (its own timeout, 5 s, outlasts the
        # 1.5 s handshake deadline) and migrates.
        slow = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        slow.sendall(b"CSC")
        api = Api(a.sock)
        rep = api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        stage = api.wait_stage("iterative-pre-copy", 20)
        try:
            third = socket.create_connection(("127.0.0.1", b.port), timeout=2)
            third.close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        except OSError as e:
            refused = f"{e}"
        fin = api.wait_final(60)
        slow.close()
        arrived = b.wait_out(r"migrated \(generation 1\): \d+ pages verified, 0 bad", 20)
        t.ok(rep == {"return": {}} and fin is not None and fin["status"] == "completed" and arrived
             and a.wait_exit(10) == 0, DOOR[2], f"{fin}\n{a.log()}{b.log()}")
        t.ok(stage is not None and refused is True, DOOR[3], f"stage {stage} refused {refused}")
    except (OSError, EOFError, ValueError) as e:	# e.g. the destination died of the junk
        for c in DOOR[t.count - first:4]:
            t.ok(False, c, f"{e!r}\n{a.log()}{b.log()}")
    finally:
        a.stop()
        b.stop()

    other = os.path.join(tmp, "other-secret")
    with open(other, "w") as f:
        f.write("other-secret\n")
    os.chmod(other, 0o600)
    wrong = Vmm(tmp, "tok-wrong", cmdline=MEMCHECK, extra=["--migration-token-file", other])
    right = Vmm(tmp, "tok-right", cmdline=MEMCHECK)
    b = Vmm(tmp, "tok-dst", incoming=True)
    try:
        first = t.count
        wrong.wait_out(r"memcheck: .* filled", 20)
        right.wait_out(r"memcheck: .* filled", 20)
        api = Api(wrong.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin1 = api.wait_final(30)
        kept, _ = source_kept(wrong)
        dropped = b.wait_err(r"dropped the connection .*(authentication failed|the source failed)", 5)
        api = Api(right.sock)
        api.cmd("migrate", uri=f"tcp:127.0.0.1:{b.port}")
        fin2 = api.wait_final(60)
        t.ok(fin1 is not None and fin1["status"] == "failed" and "authentication failed" in fin1.get("error", "")
             and kept and dropped is not None and fin2 is not None and fin2["status"] == "completed"
             and b.wait_out(r"migrated \(generation 1\): \d+ pages verified, 0 bad", 20) is not None,
             DOOR[4], f"{fin1}\n{fin2}\n{wrong.log()}{right.log()}{b.log()}")
    except (OSError, EOFError, ValueError) as e:
        if t.count == first:
            t.ok(False, DOOR[4], f"{e!r}\n{wrong.log()}{right.log()}{b.log()}")
    finally:
        wrong.stop()
        right.stop()
        b.stop()

    t0 = time.time()
    b = Vmm(tmp, "deadline", incoming=True, extra=["--incoming-timeout-ms", "2500"])
    try:
        first = t.count
        j = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        j.sendall(b"\0" * 64)
        j.close()
        time.sleep(1.0)
        alive_after_junk = b.p.poll() is None
        rc = b.wait_exit(10)
        took = time.time() - t0
        t.ok(alive_after_junk and rc == 4 and 2.0 < took < 8 and
             b.wait_err(r"incoming migration failed during pre-migration: no source authenticated within 2500 ms "
                        r"\(--incoming-timeout-ms; 1 connection dropped\)", 1) is not None,
             DOOR[5], f"alive after junk {alive_after_junk} rc {rc} after {took:.1f} s\n{b.log()}")
    except (OSError, EOFError, ValueError) as e:
        if t.count == first:
            t.ok(False, DOOR[5], f"{e!r}\n{b.log()}")
    finally:
        b.stop()

t.done()
