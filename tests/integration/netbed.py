"""Helpers for tests that need the network test bed (scripts/testbed):
a unique prefix per test, always torn down, and a VM running in the
background whose console is collected."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

from harness import GUEST, VMM

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TESTBED = os.path.join(ROOT, "scripts", "testbed")
BUILD = os.environ.get("COMPSC_BUILD", os.path.join(ROOT, "build"))
NIC = os.environ.get("COMPSC_NIC", os.path.join(BUILD, "nic", "compsc-nic"))
PEER_TOOL = os.environ.get("COMPSC_PEER", os.path.join(BUILD, "tools", "peer", "compsc-peer"))


def root_problem():
    return None if os.geteuid() == 0 else "needs root (network namespaces, TAP devices)"


class Testbed:
    def __init__(self, name, nics=False):
        # Unique per test and per run: parallel tests and other users of the
        # machine never share a namespace.
        self.prefix = f"t{os.getpid() % 100000}{name[:6]}-"
        self.env = dict(os.environ, COMPSC_TESTBED_PREFIX=self.prefix, COMPSC_NIC=NIC)
        self.nics = nics

    def nic_dir(self, host):
        """Run directory of a host's compsc-nic (testbed --nics)."""
        return f"/run/compsc-testbed/{self.prefix}{host}"

    def __enter__(self):
        subprocess.run([TESTBED, "down"], env=self.env, capture_output=True)
        p = subprocess.run([TESTBED] + (["--nics"] if self.nics else []) + ["up"], env=self.env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.__exit__(None, None, None)
            raise RuntimeError(f"testbed up failed: {p.stdout}{p.stderr}")
        return self

    def __exit__(self, *exc):
        subprocess.run([TESTBED, "down"], env=self.env, capture_output=True)

    def ns(self, name):
        return ["ip", "netns", "exec", self.prefix + name]

    def run(self, name, args, timeout=60):
        try:
            p = subprocess.run(self.ns(name) + args, capture_output=True, text=True, timeout=timeout)
            return p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            return None, f"timed out: {e}"


class HostNic:
    """The host's compsc-nic, its uplink on the bridged TAP nic0."""

    def __init__(self, bed, host="hostA", vfs=2, mac_base=None, rate="1g"):
        self.dir = tempfile.mkdtemp(prefix=f"compsc-{host}-")
        mac_base = mac_base or ("02:00:00:0a:00:10" if host == "hostA" else "02:00:00:0b:00:10")
        self.log_path = os.path.join(self.dir, "nic.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(bed.ns(host) + [NIC, "--uplink", "tap:nic0", "--vfs", str(vfs), "--dir",
                                                     self.dir, "--mac-base", mac_base, "--rate", rate],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.dir, "pf.sock")):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"compsc-nic did not start in {host}: {self.text()}")
            time.sleep(0.02)

    def vf(self, n):
        return os.path.join(self.dir, f"vf{n}.sock")

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Vm:
    """compsc-vmm in a host namespace; console lines collected in a thread."""

    def __init__(self, bed, cmdline, host="hostA", tap="tap0", extra=None, vf=None):
        """tap: the host's TAP for a virtio-net (None: no virtio-net);
        vf: a VF socket path of the host's NIC (None: no VF)."""
        devices = (["--virtio-net", f"tap:{tap}"] if tap else []) + (["--vf", vf] if vf else [])
        args = bed.ns(host) + [VMM, "--guest", GUEST] + devices + ["--log-level", "info",
                                                                    "--cmdline", cmdline] + (extra or [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = []
        self.err = []
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.append(line)

    def wait_for(self, text, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in l for l in self.out):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return any(text in l for l in self.out)
            time.sleep(0.05)
        return False

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

    def text(self):
        return "".join(self.out) + "--- stderr\n" + "".join(self.err)
