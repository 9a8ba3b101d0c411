#!/usr/bin/env python3
"""compsc-vmm's command line: usage errors, bad guest files, KVM errors."""
import os
import shutil
import struct
import subprocess
import tempfile

from harness import GUEST, VMM, Tap, accel_problem, missing, run

t = Tap()


def one_line_error(r, status, needle):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return (r.returncode == status and len(lines) == 1 and needle in lines[0]
            and lines[0].startswith("compsc-vmm: "))


r = run([VMM, "--guest", "/etc/passwd"])
t.ok(one_line_error(r, 2, "not an ELF file"), "--guest /etc/passwd: one-line error, exit 2", r)

r = run([VMM, "--guest", "/nonexistent/guest.elf"])
t.ok(one_line_error(r, 2, "cannot open"), "missing guest file: one-line error, exit 2", r)

with tempfile.TemporaryDirectory() as tmp:
    truncated = os.path.join(tmp, "truncated.elf")
    with open(GUEST, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(5000))
    r = run([VMM, "--guest", truncated])
    t.ok(one_line_error(r, 2, "truncated"), "truncated guest: one-line error, exit 2", r)

    # The real guest fits in 16M: accepted, and the guest (app=hello prints
    # its memory size at boot) sees exactly that.
    if accel_problem():
        t.skip("--mem 16M is accepted and the guest sees 16 MiB", accel_problem())
    else:
        r = run([VMM, "--guest", GUEST, "--mem", "16M", "--cmdline", "app=hello"])
        t.ok(r.returncode == 0 and "16 MiB of memory" in r.stdout,
             "--mem 16M is accepted and the guest sees 16 MiB", r)

r = run([VMM, "--guest", GUEST, "--mem", "12X"])
t.ok(one_line_error(r, 2, "--mem: '12X' is not a size"), "--mem 12X: one-line error, exit 2", r)
r = run([VMM, "--guest", GUEST, "--mem", "8G"])
t.ok(one_line_error(r, 2, "out of range"), "--mem 8G: out of range, exit 2", r)
r = run([VMM, "--guest", GUEST, "--bogus"])
t.ok(one_line_error(r, 2, "unknown option '--bogus'"), "unknown option: exit 2", r)
r = run([VMM, "--guest"])
t.ok(one_line_error(r, 2, "needs a value"), "option without value: exit 2", r)
r = run([VMM])
t.ok(one_line_error(r, 2, "--guest FILE is required"), "no --guest: exit 2", r)
r = run([VMM, "--guest", GUEST, "--log-level", "loud"])
t.ok(one_line_error(r, 2, "--log-level"), "bad --log-level: exit 2", r)
r = run([VMM, "--guest", GUEST, "extra"])
t.ok(one_line_error(r, 2, "unexpected argument"), "stray argument: exit 2", r)
r = run([VMM, "--help"])
t.ok(r.returncode == 0 and "Usage: compsc-vmm" in r.stdout and "--mem SIZE" in r.stdout,
     "--help prints usage, exit 0", r)

# /dev/kvm missing or not accessible: exit 3 with advice. Needs root to
# build the situation (a private /dev, or an unprivileged user).
if not missing("root", "unshare"):
    r = run(["unshare", "--mount", "sh", "-c",
             f"mount -t tmpfs none /dev && exec {VMM} --accel kvm --guest {GUEST}"])
    t.ok(r.returncode == 3 and "/dev/kvm does not exist" in r.stderr,
         "--accel kvm without /dev/kvm: clear message, exit 3", r)
    r = run(["unshare", "--mount", "sh", "-c",
             f"mount -t tmpfs none /dev && exec env -u COMPSC_ACCEL {VMM} --guest {GUEST}"])
    t.ok(r.returncode == 0 and "accelerator proc: /dev/kvm does not exist" in r.stderr
         and "Hello from the CompSC guest" in r.stdout,
         "auto without /dev/kvm: runs under proc and says why", r)
else:
    t.skip("--accel kvm without /dev/kvm: clear message, exit 3", missing("root", "unshare"), kvm_specific=True)
    t.skip("auto without /dev/kvm: runs under proc and says why", missing("root", "unshare"))

closed = os.path.exists("/dev/kvm") and not (os.stat("/dev/kvm").st_mode & 0o006)
if not missing("root", "setpriv") and closed:
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        guest = os.path.join(tmp, "guest.elf")
        vmm = os.path.join(tmp, "compsc-vmm")
        shutil.copy(GUEST, guest)
        shutil.copy(VMM, vmm)
        r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", vmm, "--accel", "kvm",
                 "--guest", guest])
        t.ok(r.returncode == 3 and "run as root or add your user to the 'kvm' group" in r.stderr,
             "/dev/kvm not accessible: clear message, exit 3", r)
else:
    t.skip("/dev/kvm not accessible: clear message, exit 3",
           missing("root", "setpriv") or ("needs /dev/kvm (it does not exist)" if not os.path.exists("/dev/kvm")
                                           else "needs a /dev/kvm closed to others (this one is open to them)"),
           kvm_specific=True)

# The migration secret: never on the command line, never a default, never
# from a file others can read.
env_without = {k: v for k, v in os.environ.items() if k != "COMPSC_MIGRATION_TOKEN"}
r = subprocess.run([VMM, "--guest", GUEST, "--migration-token", "s3cret"], capture_output=True, text=True,
                   timeout=30)
t.ok(r.returncode == 2 and "must not be on the command line" in r.stderr, "--migration-token on argv: refused",
     r.stderr)
r = subprocess.run([VMM, "--guest", GUEST, "--incoming", "tcp:127.0.0.1:0"], capture_output=True, text=True,
                   timeout=30, env=env_without)
t.ok(r.returncode == 2 and "--incoming needs the migration secret" in r.stderr,
     "--incoming without a secret: refused, exit 2", r.stderr)
with tempfile.TemporaryDirectory() as tmp:
    loose = os.path.join(tmp, "secret")
    with open(loose, "w") as f:
        f.write("s3cret-s3cret\n")
    os.chmod(loose, 0o644)
    r = subprocess.run([VMM, "--guest", GUEST, "--migration-token-file", loose, "--incoming", "tcp:127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30, env=env_without)
    t.ok(r.returncode == 2 and "readable or writable by group or others" in r.stderr,
         "--migration-token-file readable by others: refused", r.stderr)

# --accel: a bad name is a usage error; a guest image without the binding
# of the chosen accelerator is refused before anything starts.
r = run([VMM, "--accel", "tcg", "--guest", GUEST])
t.ok(one_line_error(r, 2, "--accel: 'tcg' is not kvm, proc or auto"), "--accel tcg: exit 2", r)
with tempfile.TemporaryDirectory() as tmp:
    data = open(GUEST, "rb").read()
    note = struct.pack("<III", 7, 4, 0x43530001) + b"CompSC\0\0" + struct.pack("<I", 3)
    kvm_only = struct.pack("<III", 7, 4, 0x43530001) + b"CompSC\0\0" + struct.pack("<I", 1)
    old = os.path.join(tmp, "kvm-only.elf")
    with open(old, "wb") as f:
        f.write(data.replace(note, kvm_only))
    r = run([VMM, "--accel", "proc", "--guest", old])
    t.ok(data.count(note) == 1 and r.returncode == 2
         and "has no binding for the proc accelerator" in r.stderr,
         "guest without the proc binding under --accel proc: clear message, exit 2", r)

t.done()
