#!/usr/bin/env python3
"""compsc-nic with real guests: frames between a guest's VF and the wire,
between two guests through the internal switch, over a TAP uplink, and a
guest whose DMA goes astray while the other VF keeps working."""
import errno
import fcntl
import json
import os
import random
import re
import socket
import struct
import subprocess
import time

from harness import GUEST, VMM, Tap, accel_problem, missing, run
from nicutil import NIC, Guest, Nic, Wire, mac_bytes, parse_test_frame, test_frame

t = Tap()

# ---- command line (no KVM needed) ---------------------------------------------
for args, needle in [
    (["--vfs", "2", "--dir", "/tmp/x"], "are required"),
    (["--uplink", "eth0", "--vfs", "2", "--dir", "/tmp/x"], "neither tap:NAME nor dgram:PATH"),
    (["--uplink", "dgram:/tmp/w", "--vfs", "9", "--dir", "/tmp/x"], "--vfs: '9'"),
    (["--uplink", "dgram:/tmp/w", "--vfs", "2", "--dir", "/tmp/x", "--rate", "3g"], "--rate"),
    (["--uplink", "dgram:/tmp/w", "--vfs", "2", "--dir", "/tmp/x", "--mac-base", "01:00:00:00:00:01"], "unicast"),
    (["--bogus"], "unknown option"),
]:
    r = run([NIC] + args)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    t.ok(r.returncode == 2 and len(lines) == 1 and needle in lines[0], f"compsc-nic {' '.join(args)}: exit 2", r)
r = run([NIC, "--help"])
t.ok(r.returncode == 0 and "--uplink SPEC" in r.stdout, "compsc-nic --help", r)

with Nic(vfs=2) as nic:
    reply = nic.ctl("assign 5")
    t.ok("error" in reply, "pf.sock: bad VF number is an error reply", reply)
    reply = nic.ctl("nonsense")
    t.ok("error" in reply and nic.alive(), "pf.sock: unknown command is an error reply", reply)
    reply = nic.ctl("assign 1 mac=ff:ff:ff:ff:ff:ff")
    t.ok("error" in reply, "pf.sock: multicast MAC refused", reply)
    regs = nic.ctl("regs 0")["regs"]
    t.ok(regs["STATUS"]["value"] & 2 and regs["EIAC"]["migrate"] and not regs["RDT0"]["migrate"],
         "pf.sock: regs shows values and migration classes", regs.get("STATUS"))
    # Several commands in one write: the replies come back in order (the
    # VMM batches what a migration's downtime waits on).
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(nic.sock("pf"))
    s.sendall(b"disable 1\nregs 1\nnonsense\ntake 1\nenable 1\n")
    data = b""
    while data.count(b"\n") < 5:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    replies = [json.loads(l) for l in data.splitlines()]
    t.ok(len(replies) == 5 and replies[0].get("queues_enabled") is False and "regs" in replies[1]
         and "error" in replies[2] and replies[3].get("frames") == [] and replies[4].get("queues_enabled") is True,
         "pf.sock: five commands in one write, five replies in order", data[:2000])
    frame = "02aabbccdd01" + "020000000099" + "88b5" + "00" * 46
    good, bad = nic.ctl(f"inject 1 {frame}"), nic.ctl(f"inject 1 {frame[:-2]}zz")
    t.ok(good.get("injected") == 60 and "error" in bad, "pf.sock: inject takes a frame in hex, refuses non-hex",
         f"{good}\n{bad}")
    # arrive: assign + hold + announce, all or nothing on the MAC.
    taken = nic.ctl("list")["vfs"][0]["mac"]
    refused = nic.ctl(f"arrive 1 mac={taken}")
    after_refusal = nic.ctl("list")["vfs"][1]
    arrived = nic.ctl("arrive 1 mac=02:aa:bb:cc:dd:01")
    vf1 = nic.ctl("list")["vfs"][1]
    t.ok("error" in refused and after_refusal["queues_enabled"] and arrived.get("held") is True
         and arrived.get("announced") is True and vf1["mac"] == "02:aa:bb:cc:dd:01" and vf1["mac_locked"]
         and not vf1["queues_enabled"],
         "pf.sock: arrive takes the MAC, holds and announces; a MAC in use refuses it whole",
         f"{refused}\n{after_refusal}\n{arrived}\n{vf1}")

# ---- a hostile VMM on the vfio-user socket (no KVM needed) ---------------------
def vfu_msg(cmd, payload=b"", msg_id=1):
    return struct.pack("<HHIII", msg_id, cmd, 16 + len(payload), 0, 0) + payload


def vfu_reply(sock):
    head = b""
    while len(head) < 16:
        chunk = sock.recv(16 - len(head))
        if not chunk:
            return None
        head += chunk
    msg_id, cmd, size, flags, err = struct.unpack("<HHIII", head)
    body = b""
    while len(body) < size - 16:
        body += sock.recv(size - 16 - len(body))
    return flags, err, body


with Nic(vfs=2) as nic:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(nic.vf(0))
    s.sendall(vfu_msg(1, struct.pack("<HH", 0, 1) + b"{}\0"))
    flags, err, _ = vfu_reply(s)
    versioned = flags & 0x20 == 0
    # DMA_MAP of an unsealed memfd (it could be shrunk under the device,
    # which would then die of SIGBUS), then of a sealed one too small for
    # the range it claims: both refused.
    def dma_map(fd, size, msg_id):
        socket.send_fds(s, [vfu_msg(2, struct.pack("<IIQQQ", 32, 3, 0, 0, size), msg_id)], [fd])
        return vfu_reply(s)
    fd = os.memfd_create("hostile")
    os.ftruncate(fd, 1 << 20)
    flags, err, _ = dma_map(fd, 1 << 20, 2)
    os.close(fd)
    dma_refused = flags & 0x20 and err == errno.EPERM
    fd = os.memfd_create("hostile-small", os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, 4096)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    flags, err, _ = dma_map(fd, 1 << 20, 3)
    os.close(fd)
    dma_refused = dma_refused and flags & 0x20 and err == errno.ERANGE
    # SET_IRQS with a pipe instead of an eventfd: refused.
    r, w = os.pipe()
    socket.send_fds(s, [vfu_msg(8, struct.pack("<IIIII", 20, 0x24, 2, 0, 1), 4)], [w])
    flags, err, _ = vfu_reply(s)
    os.close(r)
    os.close(w)
    irq_refused = flags & 0x20 and err == errno.EINVAL
    # A header claiming a 4 GiB message: the connection is closed.
    s.sendall(struct.pack("<HHIII", 4, 9, 0xFFFFFFF0, 0, 0))
    closed = vfu_reply(s) is None
    s.close()
    stats = nic.ctl("stats")
    s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s2.settimeout(5)
    s2.connect(nic.vf(0))
    s2.sendall(vfu_msg(1, struct.pack("<HH", 0, 1) + b"{}\0"))
    again = vfu_reply(s2)
    s2.close()
    t.ok(versioned and dma_refused and irq_refused and closed and nic.alive() and "uplink" in stats
         and again and again[0] & 0x20 == 0,
         "hostile vfio-user client: unsealed DMA fd, pipe as IRQ fd, huge header: refused, NIC unharmed",
         f"{versioned} {dma_refused} {irq_refused} {closed}\n{nic.read_log()}")
    t.ok("not sealed" in nic.read_log() and "runs past the end" in nic.read_log()
         and "not an eventfd" in nic.read_log(),
         "hostile vfio-user client: the NIC log says why", nic.read_log())

# ---- random vfio-user traffic (no KVM needed) ----------------------------------
def random_session(nic, rnd, n_msgs):
    """One connection sending random commands with random payloads (and
    sometimes fds); returns how many replies came back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(nic.vf(rnd.randrange(2)))
    replies = 0
    try:
        if rnd.random() < 0.8:
            s.sendall(vfu_msg(1, struct.pack("<HH", 0, 1) + b"{}\0"))
            replies += vfu_reply(s) is not None
        for i in range(n_msgs):
            cmd = rnd.choice([2, 3, 4, 5, 7, 8, 9, 10, 13, rnd.randrange(65536)])
            payload = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 4, 16, 20, 24, 32, rnd.randrange(300)])))
            if cmd in (9, 10) and rnd.random() < 0.7:	# plausible region access
                count = rnd.choice([1, 2, 4, 8, 4, 4, 3, 1 << 20])
                payload = struct.pack("<QII", rnd.randrange(0x4100), rnd.choice([0, 7, 3]), count) + \
                    bytes(rnd.randrange(256) for _ in range(min(count, 8) if cmd == 10 else 0))
            msg = vfu_msg(cmd, payload, i + 2)
            if rnd.random() < 0.1:
                fds = [os.eventfd(0) if rnd.random() < 0.5 else os.open("/dev/null", os.O_RDONLY)
                       for _ in range(rnd.randrange(1, 4))]
                socket.send_fds(s, [msg], fds)
                for fd in fds:
                    os.close(fd)
            else:
                s.sendall(msg)
            if vfu_reply(s) is None:
                break
            replies += 1
    except (OSError, socket.timeout):
        pass
    finally:
        s.close()
    return replies


rnd = random.Random(20261126)
with Nic(vfs=2) as nic:
    total = sum(random_session(nic, rnd, 100) for _ in range(40))
    stats = nic.ctl("stats")
    t.ok(nic.alive() and "uplink" in stats and total > 1000,
         f"random vfio-user traffic (40 sessions, {total} replies): NIC unharmed", nic.read_log()[-3000:])

problem = accel_problem()
NAMES = ["guest sends frames out of the uplink", "guest receives frames from the uplink (polling)",
         "guest echoes frames in interrupt mode", "MAC assigned by the host reaches the guest",
         "two guests exchange frames through the internal switch",
         "DMA fault on one VF, the other VF keeps working", "VF can be reattached after its VMM dies",
         "a second VMM on a busy VF is refused", "TAP uplink: guest frames appear on the TAP device",
         "the NIC dies under a running guest: the VMM says so and carries on"]
if problem:
    for n in NAMES:
        t.skip(n, problem)
    t.done()

# ---- guest <-> wire ------------------------------------------------------------
with Nic(vfs=2) as nic:
    wire = Wire(nic)
    g = Guest(VMM, GUEST, "app=vfraw mode=send count=300 size=600 dst=02:00:00:00:00:99", vfs=[nic.vf(0)])
    frames = wire.recv_all(timeout=2.0, until=300)
    g.finish()
    parsed = [parse_test_frame(f) for f in frames]
    seqs = [p[2] for p in parsed if p]
    t.ok(g.proc.returncode == 0 and seqs == list(range(300)) and all(len(f) == 600 for f in frames)
         and all(p[1] == mac_bytes("02:00:00:00:00:10") for p in parsed),
         NAMES[0], f"{len(frames)} frames, seqs {seqs[:5]}..\n{g}")

    g = Guest(VMM, GUEST, "app=vfraw mode=recv count=200", vfs=[nic.vf(1)])
    up = g.wait_line("vf0 up")
    me = mac_bytes("02:00:00:00:00:11")
    for seq in range(200):
        wire.send(test_frame(me, mac_bytes("02:00:00:00:00:99"), seq, 300))
        if seq % 20 == 19:
            time.sleep(0.005)
    g.finish()
    t.ok(up and g.proc.returncode == 0 and "received 200 frames (duplicates 0, out of order 0)" in g.output,
         NAMES[1], g)

    g = Guest(VMM, GUEST, "app=vfraw mode=echo count=100 irq=1", vfs=[nic.vf(1)])
    up = g.wait_line("vf0 up")
    for seq in range(100):
        wire.send(test_frame(me, mac_bytes("02:00:00:00:00:99"), seq, 200))
        time.sleep(0.002)
    echoes = [parse_test_frame(f) for f in wire.recv_all(timeout=2.0, until=100)]
    g.finish()
    t.ok(up and g.proc.returncode == 0 and "interrupt mode" in g.output
         and sorted(e[2] for e in echoes if e) == list(range(100))
         and all(e[0] == mac_bytes("02:00:00:00:00:99") and e[1] == me for e in echoes if e),
         NAMES[2], f"{len(echoes)} echoes\n{g}")
    wire.close()

with Nic(vfs=2) as nic:
    nic.ctl("assign 0 mac=02:aa:bb:cc:dd:ee owner=test")
    r = run([VMM, "--guest", GUEST, "--vf", nic.vf(0), "--cmdline", "app=vfraw mode=send count=1"])
    listed = nic.ctl("list")["vfs"][0]
    t.ok(r.returncode == 0 and "MAC from the PF 02:aa:bb:cc:dd:ee" in r.stdout and listed["owner"] == "test"
         and listed["mac_locked"], NAMES[3], r)

# ---- two guests on one NIC -----------------------------------------------------
with Nic(vfs=2) as nic:
    wire = Wire(nic)
    b = Guest(VMM, GUEST, "app=vfraw mode=echo count=30 irq=1", vfs=[nic.vf(1)])
    b.wait_line("vf0 up")
    a = Guest(VMM, GUEST, "app=vfraw mode=ping count=30 dst=02:00:00:00:00:11", vfs=[nic.vf(0)])
    a.finish()
    b.finish()
    stats = nic.ctl("stats")
    out_frames = [parse_test_frame(f) for f in wire.recv_all(timeout=0.3)]
    t.ok(a.proc.returncode == 0 and b.proc.returncode == 0 and "ping 30/30 answered" in a.output
         and stats["switched_frames"] >= 60 and not any(f for f in out_frames if f),
         NAMES[4], f"{stats}\n{a}\n{b}")
    m = re.search(r"gptlbc=(\d+)", a.output)
    t.ok(m and int(m.group(1)) >= 30, "loopback counters count switched frames", a.output)
    wire.close()

with Nic(vfs=2) as nic:
    wire = Wire(nic)
    bad = Guest(VMM, GUEST, "app=vfraw mode=badring hold=3000", vfs=[nic.vf(0)])
    bad.wait_line("outside guest memory")
    good = Guest(VMM, GUEST, "app=vfraw mode=echo count=50", vfs=[nic.vf(1)])
    good.wait_line("vf0 up")
    me = mac_bytes("02:00:00:00:00:11")
    for seq in range(50):
        wire.send(test_frame(me, mac_bytes("02:00:00:00:00:99"), seq, 100))
        time.sleep(0.002)
    echoes = [parse_test_frame(f) for f in wire.recv_all(timeout=2.0, until=50)]
    good.finish()
    bad.finish()
    vfs = nic.ctl("list")["vfs"]
    t.ok(nic.alive() and vfs[0]["errors"]["dma_faults"] >= 1 and vfs[1]["errors"]["dma_faults"] == 0
         and len([e for e in echoes if e]) == 50 and good.proc.returncode == 0
         and "DMA fault" in nic.read_log(), NAMES[5], f"{vfs}\n{good}\n{nic.read_log()}")
    wire.close()

    # The VMM of VF0 is gone: a new one attaches and works.
    g = Guest(VMM, GUEST, "app=vfraw mode=send count=5", vfs=[nic.vf(0)])
    rc = g.finish()
    t.ok(rc == 0 and "sent 5 frames" in g.output and nic.ctl("list")["vfs"][0]["tx_packets"] >= 5,
         NAMES[6], g)

    holder = Guest(VMM, GUEST, "app=vfraw mode=recv count=1 timeout=5000", vfs=[nic.vf(1)])
    holder.wait_line("vf0 up")
    r = run([VMM, "--guest", GUEST, "--vf", nic.vf(1)], timeout=30)
    holder.kill()
    t.ok(r.returncode == 1 and "--vf" in r.stderr and nic.alive(), NAMES[7], r)

# ---- the NIC process dies under a guest ---------------------------------------------
nic = Nic(vfs=1)
try:
    g = Guest(VMM, GUEST, "app=vfraw mode=recv count=100000 irq=1 timeout=3000", vfs=[nic.vf(0)])
    up = g.wait_line("vf0 up")
    nic.proc.kill()
    rc = g.finish(60)
    t.ok(up and rc == 1 and "received 0 frames" in g.output and "device lost" in "".join(g.err),
         NAMES[9], g)
finally:
    nic.close()

# ---- TAP uplink (root) ------------------------------------------------------------
if missing("root", "/dev/net/tun", "ip"):
    t.skip(NAMES[8], missing("root", "/dev/net/tun", "ip"))
else:
    ns = f"cscnic{os.getpid()}"
    tap = f"csctap{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        listener = subprocess.Popen(
            ["ip", "netns", "exec", ns, "python3", "-c", f"""
import socket, struct, sys, time
deadline = time.time() + 20
while True:
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5)); s.bind(("{tap}", 0)); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.05)
print("ready", flush=True)
s.settimeout(5)
n = 0
try:
    while n < 50:
        f = s.recv(2048)
        if struct.unpack("<I", f[14:18])[0] == {0x46435343}: n += 1
except socket.timeout:
    pass
print("got", n, flush=True)
"""], stdout=subprocess.PIPE, text=True)
        with Nic(vfs=1, uplink=f"tap:{tap}", prefix=["ip", "netns", "exec", ns]) as nic:
            ready = listener.stdout.readline()
            r = run([VMM, "--guest", GUEST, "--vf", nic.vf(0), "--cmdline",
                     "app=vfraw mode=send count=50 size=200 dst=02:00:00:00:00:99"])
            out, _ = listener.communicate(timeout=30)
            t.ok(ready.startswith("ready") and r.returncode == 0 and "got 50" in out, NAMES[8],
                 f"{out}\n{r}\n{nic.read_log()}")
    finally:
        subprocess.run(["ip", "netns", "del", ns])

t.done()
