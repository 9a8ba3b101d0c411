"""Helpers for tests that need the network test bed (scripts/testbed):
a unique prefix per test, always torn down, and a VM running in the
background whose console is collected."""
import os
import subprocess

from harness import GUEST, VMM, Background
from nicutil import NIC, Nic

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TESTBED = os.path.join(ROOT, "scripts", "testbed")
BUILD = os.environ.get("COMPSC_BUILD", os.path.join(ROOT, "build"))
PEER_TOOL = os.environ.get("COMPSC_PEER", os.path.join(BUILD, "tools", "peer", "compsc-peer"))


def root_problem():
    return None if os.geteuid() == 0 else f"needs root for network namespaces and TAP devices (running as uid {os.geteuid()})"


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


class HostNic(Nic):
    """The host's compsc-nic, its uplink on the bridged TAP nic0."""

    def __init__(self, bed, host="hostA", vfs=2, mac_base=None, rate="1g"):
        mac_base = mac_base or ("02:00:00:0a:00:10" if host == "hostA" else "02:00:00:0b:00:10")
        super().__init__(vfs=vfs, uplink="tap:nic0", prefix=bed.ns(host),
                         extra=["--mac-base", mac_base, "--rate", rate])

    def text(self):
        return self.read_log()


class Vm(Background):
    """compsc-vmm in a host namespace, console collected (harness.Background)."""

    def __init__(self, bed, cmdline, host="hostA", tap="tap0", extra=None, vf=None, env=None):
        """tap: the host's TAP for a virtio-net (None: no virtio-net);
        vf: a VF socket path of the host's NIC (None: no VF); env: more
        environment variables for the VMM."""
        devices = (["--virtio-net", f"tap:{tap}"] if tap else []) + (["--vf", vf] if vf else [])
        setenv = ["env"] + [f"{k}={v}" for k, v in env.items()] if env else []
        super().__init__(bed.ns(host) + setenv + [VMM, "--guest", GUEST] + devices +
                         ["--log-level", "info", "--cmdline", cmdline] + (extra or []))
