#!/usr/bin/env python3
"""Who may talk to the host programs' sockets (docs/nic.md "Who may connect",
docs/api.md): compsc-nic's run directory, the modes of pf.sock, vfN.sock and
the VMM's --api socket, the peer-credential check on each of them (another
user is closed without an answer while the owner is served), the pf.sock
client limit, and a VMM that refuses to hand its guest RAM to a vfio-user
server run by another user.

Another user is uid/gid 65534 (nobody/nogroup) through setpriv, as root;
without root those checks skip. The VMs here never run a guest (the VMM
stops at --vf, or idles with --api), so one accelerator suffices: proc."""
import json
import os
import socket
import stat
import struct
import sys
import tempfile
import time

from harness import GUEST, VMM, Background, Tap, missing, proc_problem, run
from miglib import Api, Vmm, tmpdir
from nicutil import NIC, Nic

os.environ["COMPSC_ACCEL"] = "proc"
os.environ.pop("COMPSC_SOCKET_GROUP", None)
t = Tap()
NOBODY = 65534
UNKNOWN_GROUP = "COMPSC_SOCKET_GROUP: no group 'no-such-group-here'"
# Acting as another user needs root and setpriv; NOT_AS_ROOT says which is missing.
NOT_AS_ROOT = missing("root", "setpriv")
AS_ROOT = NOT_AS_ROOT is None


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def one_line_error(r, status, needle):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode == status and len(lines) == 1 and needle in lines[0]


def as_user(uid, gid, args):
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"] + args


# A client run as another user: connects to argv[1], sends argv[2] (with
# escapes), prints what came back and whether the server closed on it.
CLIENT = r'''
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
out = {"connected": False, "reply": "", "closed": False}
try:
    s.connect(sys.argv[1])
    out["connected"] = True
    try:
        s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
    except BrokenPipeError:
        pass	# closed before the request got there: what follows says so
    while True:
        chunk = s.recv(65536)
        if not chunk:
            out["closed"] = True
            break
        out["reply"] += chunk.decode("latin-1")
        if sys.argv[3] == "one" and (out["reply"].endswith("\n") or len(out["reply"]) >= 16):
            break
except ConnectionResetError:
    out["closed"] = True
except OSError as e:
    out["error"] = str(e)
print(json.dumps(out))
'''
VFU_VERSION = "\\x01\\x00\\x01\\x00\\x17\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00" \
              "\\x00\\x00\\x01\\x00{}\\x00"


def client(uid, gid, path, data, until="one"):
    r = run(as_user(uid, gid, [sys.executable, "-c", CLIENT, path, data, until]), timeout=20)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": str(r)}


# ---- the run directory -------------------------------------------------------------
CHECKS_DIR = ["--dir world-writable: refused, exit 2", "--dir group-writable: refused, exit 2",
              "--dir a file: refused, exit 2", "--dir created 0700", "--dir owned by another user: refused, exit 2"]
with tempfile.TemporaryDirectory(prefix="compsc-trust-") as tmp:
    wire = f"dgram:{tmp}/wire"
    for perm, name in [(0o777, CHECKS_DIR[0]), (0o770, CHECKS_DIR[1])]:
        d = os.path.join(tmp, f"run{perm:o}")
        os.mkdir(d)
        os.chmod(d, perm)
        # Before the check existed the NIC served such a directory: the
        # timeout ends it, and the test fails on the status.
        r = run([NIC, "--uplink", wire, "--vfs", "1", "--dir", d], timeout=5)
        t.ok(one_line_error(r, 2, f"--dir {d}: group- or world-writable") and not os.path.exists(f"{d}/pf.sock"),
             name, r)
    f = os.path.join(tmp, "plain")
    open(f, "w").close()
    r = run([NIC, "--uplink", wire, "--vfs", "1", "--dir", f], timeout=5)
    t.ok(one_line_error(r, 2, "not a directory"), CHECKS_DIR[2], r)

    d = os.path.join(tmp, "fresh")
    nic = Background([NIC, "--uplink", wire, "--vfs", "1", "--dir", d])
    ready = nic.wait_for("ready", 10, stream="err")
    created = mode(d) if os.path.isdir(d) else None
    nic.stop()
    t.ok(ready and created == 0o700, CHECKS_DIR[3], f"mode {created and oct(created)}\n{nic}")

    if AS_ROOT:
        d = os.path.join(tmp, "theirs")
        os.mkdir(d, 0o700)
        os.chown(d, NOBODY, NOBODY)
        r = run([NIC, "--uplink", wire, "--vfs", "1", "--dir", d], timeout=5)
        t.ok(one_line_error(r, 2, f"--dir {d}: owned by uid {NOBODY}"), CHECKS_DIR[4], r)
    else:
        t.skip(CHECKS_DIR[4], f"{NOT_AS_ROOT} (to give a directory to another user)")

# ---- socket modes ----------------------------------------------------------------------
with Nic(vfs=1) as nic:
    t.ok(mode(nic.sock("pf")) == 0o600 and mode(nic.vf(0)) == 0o600,
         "pf.sock and vf0.sock are created 0600", f"{oct(mode(nic.sock('pf')))} {oct(mode(nic.vf(0)))}")

# ---- the peer check on the NIC's sockets -----------------------------------------------
CHECKS_NIC = ["pf.sock: another user is closed without an answer, root is served",
              "pf.sock: refused peers are logged, rate-limited",
              "vf0.sock: another user is closed without an answer, the VF stays free for root",
              "COMPSC_SOCKET_GROUP: run directory 0710 and vf sockets 0660 of the group, pf.sock 0600",
              "COMPSC_SOCKET_GROUP: a group member is served on vf0.sock, another user is not",
              "COMPSC_SOCKET_GROUP naming no group: refused, exit 2"]
if AS_ROOT:
    with Nic(vfs=1) as nic:
        # Past the file modes (what a careless chmod would do): only the
        # peer check stands between another user and the NIC.
        os.chmod(nic.dir, 0o711)
        os.chmod(nic.sock("pf"), 0o666)
        os.chmod(nic.vf(0), 0o666)
        theirs = client(NOBODY, NOBODY, nic.sock("pf"), "list\\n")
        mine = nic.ctl("list")
        t.ok(theirs.get("connected") and theirs.get("closed") and theirs.get("reply") == ""
             and len(mine.get("vfs", [])) == 1 and nic.alive(), CHECKS_NIC[0], f"{theirs}\n{nic.read_log()}")
        flood = run(as_user(NOBODY, NOBODY, [sys.executable, "-c", f"""
import socket
for _ in range(40):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect({nic.sock('pf')!r})
    try:
        s.recv(16)
    except OSError:
        pass
    s.close()
"""]), timeout=30)
        time.sleep(0.2)
        log = nic.read_log()
        refused = [l for l in log.splitlines() if "pf.sock: refused" in l]
        t.ok(flood.returncode == 0 and 1 <= len(refused) < 20 and f"uid {NOBODY}" in refused[0]
             and nic.ctl("stats").get("uplink"),
             CHECKS_NIC[1], f"{len(refused)} lines\n{flood}\n{log[-2000:]}")
        theirs = client(NOBODY, NOBODY, nic.vf(0), VFU_VERSION)
        mine = client(0, 0, nic.vf(0), VFU_VERSION)
        t.ok(theirs.get("connected") and theirs.get("closed") and theirs.get("reply") == ""
             and len(mine.get("reply", "")) >= 16 and "vf0: refused" in nic.read_log(),
             CHECKS_NIC[2], f"{theirs}\n{mine}\n{nic.read_log()[-2000:]}")

    with tempfile.TemporaryDirectory(prefix="compsc-trust-") as tmp:
        d = os.path.join(tmp, "run")
        os.chmod(tmp, 0o711)
        nic = Background(["env", "COMPSC_SOCKET_GROUP=nogroup", NIC, "--uplink", f"dgram:{tmp}/wire",
                          "--vfs", "1", "--dir", d])
        try:
            ready = nic.wait_for("ready", 10, stream="err")
            st_dir, st_vf = os.stat(d), os.stat(f"{d}/vf0.sock")
            t.ok(ready and stat.S_IMODE(st_dir.st_mode) == 0o710 and st_dir.st_gid == NOBODY
                 and stat.S_IMODE(st_vf.st_mode) == 0o660 and st_vf.st_gid == NOBODY
                 and mode(f"{d}/pf.sock") == 0o600, CHECKS_NIC[3],
                 f"{oct(st_dir.st_mode)} {st_dir.st_gid} {oct(st_vf.st_mode)} {st_vf.st_gid}\n{nic}")
            member = client(NOBODY, NOBODY, f"{d}/vf0.sock", VFU_VERSION)
            os.chmod(d, 0o711)
            os.chmod(f"{d}/vf0.sock", 0o666)
            stranger = client(NOBODY - 1, NOBODY - 1, f"{d}/vf0.sock", VFU_VERSION)
            t.ok(len(member.get("reply", "")) >= 16 and stranger.get("connected") and stranger.get("closed")
                 and stranger.get("reply") == "", CHECKS_NIC[4], f"{member}\n{stranger}\n{nic}")
        finally:
            nic.stop()
        r = run(["env", "COMPSC_SOCKET_GROUP=no-such-group-here", NIC, "--uplink", f"dgram:{tmp}/wire",
                 "--vfs", "1", "--dir", f"{tmp}/run2"], timeout=5)
        t.ok(one_line_error(r, 2, "COMPSC_SOCKET_GROUP") and "no-such-group-here" in r.stderr, CHECKS_NIC[5], r)
else:
    for c in CHECKS_NIC:
        t.skip(c, f"{NOT_AS_ROOT} (to act as another user)")

# ---- pf.sock client limit ------------------------------------------------------------
with Nic(vfs=1) as nic:
    idle = []
    for _ in range(8):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(nic.sock("pf"))
        idle.append(s)
    extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    extra.settimeout(5)
    extra.connect(nic.sock("pf"))
    # Read first: had it sent a command, the NIC's close with that
    # command unread would reset the connection, the answer with it.
    try:
        answer = extra.recv(65536)
    except (socket.timeout, ConnectionResetError) as e:
        answer = str(e).encode()
    try:
        extra.sendall(b"list\n")
        closed = extra.recv(1) == b""
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    except socket.timeout:
        closed = False
    extra.close()
    idle.pop().close()
    served = None
    for _ in range(50):	# the NIC sees the close, then the new client
        try:
            served = nic.ctl("list")
            if "vfs" in served:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    for s in idle:
        s.close()
    t.ok(b"too many clients" in answer and closed and served and "vfs" in served and nic.alive(),
         "pf.sock: 8 clients at most, the 9th is told so and closed; a freed slot serves again",
         f"{answer!r} {closed} {served}\n{nic.read_log()}")

# ---- the VMM's control socket ----------------------------------------------------------
problem = proc_problem()
CHECKS_API = ["--api socket is created 0600", "--api: another user is closed without a greeting, root is served",
              "--api with COMPSC_SOCKET_GROUP naming no group: refused, exit 2"]
if problem:
    for c in CHECKS_API:
        t.skip(c, problem)
else:
    with tmpdir() as tmp:
        v = Vmm(tmp, "api")
        try:
            m = mode(v.sock) if os.path.exists(v.sock) else None
            t.ok(m == 0o600, CHECKS_API[0], f"{m and oct(m)}\n{v.log()}")
            if AS_ROOT:
                os.chmod(tmp, 0o711)
                os.chmod(v.sock, 0o666)
                theirs = client(NOBODY, NOBODY, v.sock, '{"execute": "status"}\\n')
                mine = Api(v.sock)
                status = mine.cmd("status")
                mine.close()
                t.ok(theirs.get("connected") and theirs.get("closed") and theirs.get("reply") == ""
                     and "greeting" in mine.greeting and status["return"]["state"] == "running"
                     and v.wait_err(rf"api: refused .*uid {NOBODY}", 5), CHECKS_API[1], f"{theirs}\n{v.log()}")
            else:
                t.skip(CHECKS_API[1], f"{NOT_AS_ROOT} (to act as another user)")
        finally:
            v.stop()
        sock = os.path.join(tmp, "bad.sock")
        r = run(["env", "COMPSC_SOCKET_GROUP=no-such-group-here", VMM, "--guest", GUEST, "--api", sock], timeout=30)
        t.ok(r.returncode == 2 and f"compsc-vmm: --api: {UNKNOWN_GROUP}" in r.stderr
             and not os.path.exists(sock), CHECKS_API[2], r)

# ---- the VMM and a vfio-user server it should not trust -----------------------------------
# A vfio-user server that answers the VMM's set-up like a VF would, up to
# DMA_MAP (which carries the guest-RAM memfd), and reports what it saw.
FAKE_VF = r'''
import json, os, socket, struct, sys
REPLIES = {1: struct.pack("<HH", 0, 1) + b"{}\0", 4: struct.pack("<IIII", 16, 2, 9, 5),
           5: struct.pack("<IIIIQQ", 32, 0, 0, 0, 16384, 0), 7: struct.pack("<IIII", 16, 0, 2, 3), 13: b""}
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(sys.argv[1])
l.listen(1)
print("ready", flush=True)
seen = {"bytes": 0, "commands": [], "fds": 0}
try:
    l.settimeout(30)
    c, _ = l.accept()
    c.settimeout(10)
    buf = b""
    while True:
        data, fds, _, _ = socket.recv_fds(c, 65536, 8)
        if not data:
            break
        seen["bytes"] += len(data)
        seen["fds"] += len(fds)
        for fd in fds:
            os.close(fd)
        buf += data
        while len(buf) >= 16:
            mid, cmd, size, flags, err = struct.unpack("<HHIII", buf[:16])
            if len(buf) < size:
                break
            buf = buf[size:]
            seen["commands"].append(cmd)
            body = REPLIES.get(cmd)
            if body is None:
                c.sendall(struct.pack("<HHIII", mid, cmd, 16, 0x21, 1))
            else:
                c.sendall(struct.pack("<HHIII", mid, cmd, 16 + len(body), 1, 0) + body)
except OSError as e:
    seen["error"] = str(e)
print(json.dumps(seen), flush=True)
'''
CHECKS_VF = ["--vf served by another user: refused with a clear message, nothing sent",
             "--vf served by a member of COMPSC_SOCKET_GROUP: accepted (the server sees DMA_MAP)"]
if problem or not AS_ROOT:
    for c in CHECKS_VF:
        t.skip(c, problem or f"{NOT_AS_ROOT} (to act as another user)")
else:
    for group, name in [(None, CHECKS_VF[0]), ("nogroup", CHECKS_VF[1])]:
        with tempfile.TemporaryDirectory(prefix="compsc-trust-") as tmp:
            os.chmod(tmp, 0o755)
            d = os.path.join(tmp, "theirs")
            os.mkdir(d)
            os.chown(d, NOBODY, NOBODY)
            path = os.path.join(d, "vf0.sock")
            fake = Background(as_user(NOBODY, NOBODY, [sys.executable, "-c", FAKE_VF, path]))
            ready = fake.wait_for("ready", 10)
            env = ["env"] + ([f"COMPSC_SOCKET_GROUP={group}"] if group else [])
            r = run(env + [VMM, "--guest", GUEST, "--vf", path], timeout=30)
            fake.finish(20)
            try:
                seen = json.loads(fake.out[-1])
            except (ValueError, IndexError):
                seen = {}
            if group is None:
                line = [l for l in r.stderr.splitlines() if l.startswith(f"compsc-vmm: --vf: {path}: refused")]
                t.ok(ready and r.returncode == 1 and line and f"the server uid {NOBODY}" in line[0]
                     and "nothing sent" in line[0]
                     and seen.get("bytes") == 0 and seen.get("fds") == 0, name, f"{seen}\n{r}\n{fake}")
            else:
                t.ok(ready and r.returncode == 1 and 2 in seen.get("commands", []) and seen.get("fds", 0) >= 1
                     and "DMA_MAP" in r.stderr, name, f"{seen}\n{r}\n{fake}")

t.done()
