"""Functional-test harness: starts the real programs and reports TAP.

Every check is one TAP line, so the summary of `make test` counts each of
them. Tests that need KVM call `require_kvm()`: on a machine without a usable
/dev/kvm they are reported as skipped, loudly, except under CI=true, where a
missing KVM is a failure (CI machines have KVM).
"""
import os
import subprocess
import sys

BUILD = os.environ.get("COMPSC_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
VMM = os.environ.get("COMPSC_VMM", os.path.join(BUILD, "vmm", "compsc-vmm"))
GUEST = os.environ.get("COMPSC_GUEST", os.path.join(BUILD, "guest", "compsc-guest.elf"))


def kvm_problem():
    """None if /dev/kvm can be opened read-write, else the reason."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return f"/dev/kvm unusable: {e.strerror}"
    os.close(fd)
    return None


class Tap:
    def __init__(self):
        self.count = 0
        self.failures = 0

    def _line(self, text):
        print(text, flush=True)

    def ok(self, cond, name, diag=""):
        self.count += 1
        if cond:
            self._line(f"ok {self.count} - {name}")
        else:
            self.failures += 1
            self._line(f"not ok {self.count} - {name}")
            for line in str(diag).splitlines()[-40:]:
                self._line(f"# {line}")
        return cond

    def skip(self, name, reason):
        self.count += 1
        if os.environ.get("CI") == "true":
            self.failures += 1
            self._line(f"not ok {self.count} - {name} # {reason} (CI=true: KVM is required)")
        else:
            sys.stderr.write(f"\n*** SKIPPED: {name}: {reason} ***\n\n")
            self._line(f"ok {self.count} - {name} # SKIP {reason}")

    def done(self):
        self._line(f"1..{self.count}")
        sys.exit(1 if self.failures else 0)


class Result:
    def __init__(self, returncode, stdout, stderr, timed_out):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def __str__(self):
        return (f"exit status {self.returncode}{' (timed out)' if self.timed_out else ''}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


def run(args, timeout=60, prefix=None):
    """Runs a program to completion; a hang becomes timed_out, never a stuck test."""
    cmd = (prefix or []) + args
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr, False)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Result(None, out, err, True)


def run_vmm(cmdline="", mem=None, extra=None, timeout=60, prefix=None):
    args = [VMM, "--guest", GUEST, "--cmdline", cmdline]
    if mem:
        args += ["--mem", mem]
    return run(args + (extra or []), timeout=timeout, prefix=prefix)
