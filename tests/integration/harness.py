"""Functional-test harness: starts the real programs and reports TAP.

Every check is one TAP line, so the summary of `make test` counts each of
them. Tests run under the accelerator named by $COMPSC_ACCEL (kvm, proc or
auto), which every compsc-vmm they start inherits; the test runner runs the
VM tests once per accelerator the machine has (scripts/run-tests).
`accel_problem()` says why VMs cannot run under it here (None if they can).
A skipped check is a failure under CI=true unless it is KVM-specific
(skip(..., kvm_specific=True)): on a machine without /dev/kvm only checks of
KVM itself may skip.
"""
import os
import shutil
import subprocess
import sys
import threading
import time

BUILD = os.environ.get("COMPSC_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
VMM = os.environ.get("COMPSC_VMM", os.path.join(BUILD, "vmm", "compsc-vmm"))
GUEST = os.environ.get("COMPSC_GUEST", os.path.join(BUILD, "guest", "compsc-guest.elf"))


ACCEL = os.environ.get("COMPSC_ACCEL") or "auto"
# compsc-vmm takes its sandbox from $COMPSC_PROC_SANDBOX, else next to itself.
SANDBOX = os.environ.get("COMPSC_PROC_SANDBOX") or os.path.join(os.path.dirname(VMM), "compsc-vcpu-proc")


def kvm_problem():
    """None if /dev/kvm can be opened read-write, else the reason."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        who = "root" if os.geteuid() == 0 else "this user"
        return f"/dev/kvm unusable for {who}: {e.strerror}"
    os.close(fd)
    return None


def proc_problem():
    """None if the proc accelerator's sandbox binary is there."""
    return None if os.access(SANDBOX, os.X_OK) else f"{SANDBOX} is missing: build it"


def accel_problem():
    """None if VMs can run under $COMPSC_ACCEL here, else the reason."""
    if ACCEL == "kvm":
        return kvm_problem()
    if ACCEL == "proc":
        return proc_problem()
    return None if kvm_problem() is None else proc_problem()


def missing(*needs):
    """None if this machine has everything a check needs, else a reason
    naming only what is missing. needs: "root", "kvm" (a usable /dev/kvm),
    a path (starting with /) or a program looked up in $PATH."""
    out = []
    for n in needs:
        if n == "root":
            if os.geteuid() != 0:
                out.append(f"root (running as uid {os.geteuid()})")
        elif n == "kvm":
            if kvm_problem():
                out.append(f"KVM ({kvm_problem()})")
        elif n.startswith("/"):
            if not os.path.exists(n):
                out.append(f"{n} (does not exist)")
        elif shutil.which(n) is None:
            out.append(f"{n} (not installed)")
    return "needs " + " and ".join(out) if out else None


def problems(*reasons):
    """Every reason that applies, joined (a check needing KVM and root on a
    machine that lacks both names both), or None."""
    found = [r for r in reasons if r]
    return "; ".join(found) if found else None


def accel_in_use():
    """The accelerator compsc-vmm will pick: kvm or proc."""
    if ACCEL in ("kvm", "proc"):
        return ACCEL
    return "kvm" if kvm_problem() is None else "proc"


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

    def skip(self, name, reason, kvm_specific=False):
        self.count += 1
        if os.environ.get("CI") == "true" and not kvm_specific:
            self.failures += 1
            self._line(f"not ok {self.count} - {name} # {reason} (CI=true: only KVM-specific checks may skip)")
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


class Background:
    """A program running in the background (a VMM, usually). Threads
    collect stdout and stderr line by line, so waiting for a line can time
    out and nothing blocks on a full pipe."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, stream, lines):
        for line in stream:
            with self.cond:
                lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, text, timeout=30, stream="out"):
        """The first line of stdout (or stderr) containing text, waiting up
        to timeout seconds; None if it never came."""
        lines = self.out if stream == "out" else self.err
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self.threads)):
                    return None
                self.cond.wait(min(left, 0.1))

    def finish(self, timeout=60):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self.threads:
            t.join(timeout=5)
        return self.proc.returncode

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.finish(10)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        return self.finish(10)

    @property
    def output(self):
        with self.cond:
            return "".join(self.out)

    def text(self):
        with self.cond:
            return (f"exit {self.proc.returncode}\n--- stdout\n" + "".join(self.out) + "--- stderr\n" +
                    "".join(self.err))

    def __str__(self):
        return self.text()
