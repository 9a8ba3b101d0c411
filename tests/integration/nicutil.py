"""Helpers for tests that run compsc-nic: the NIC process, its PF control
socket, the datagram wire, and test frames in the guest's vfraw format."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from harness import BUILD, Background

NIC = os.environ.get("COMPSC_NIC", os.path.join(BUILD, "nic", "compsc-nic"))
ETHERTYPE = 0x88B5
MAGIC = 0x46435343


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def test_frame(dst, src, seq, size=64):
    head = dst + src + struct.pack("!H", ETHERTYPE) + struct.pack("<II", MAGIC, seq)
    return head + bytes((seq + i) & 0xFF for i in range(len(head), size))


def parse_test_frame(frame):
    """(dst, src, seq) of a test frame, or None."""
    if len(frame) < 22 or struct.unpack("!H", frame[12:14])[0] != ETHERTYPE:
        return None
    magic, seq = struct.unpack("<II", frame[14:22])
    return (frame[0:6], frame[6:12], seq) if magic == MAGIC else None


class Nic:
    """compsc-nic with a dgram uplink in a private run directory."""

    def __init__(self, vfs=2, extra=None, uplink=None, prefix=None):
        self.dir = tempfile.mkdtemp(prefix="compsc-nic-")
        self.wire_path = os.path.join(self.dir, "wire")
        uplink = uplink or f"dgram:{self.wire_path}"
        cmd = (prefix or []) + [NIC, "--uplink", uplink, "--vfs", str(vfs), "--dir", self.dir] + (extra or [])
        self.log_path = os.path.join(self.dir, "nic.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(self.sock("pf")):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"compsc-nic did not start: {self.read_log()}")
            time.sleep(0.02)

    def sock(self, name):
        return os.path.join(self.dir, f"{name}.sock")

    def vf(self, n):
        return self.sock(f"vf{n}")

    def ctl(self, command):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.sock("pf"))
        s.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data)

    def alive(self):
        return self.proc.poll() is None

    def read_log(self):
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


class Wire:
    """The far end of a dgram uplink: receives what the NIC sends out,
    sends frames into the NIC."""

    def __init__(self, nic):
        self.nic_path = nic.wire_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(nic.wire_path + ".peer")

    def send(self, frame, timeout=2.0):
        """One frame into the NIC. A NIC busy elsewhere (a loaded machine)
        may leave its receive queue full for a moment: wait for room, as a
        wire would, rather than fail the test."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.sendto(frame, self.nic_path)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)

    def recv_all(self, timeout=1.0, until=None):
        """Frames until `until` of them arrived or nothing came for `timeout` s."""
        frames = []
        self.sock.settimeout(timeout)
        while until is None or len(frames) < until:
            try:
                frames.append(self.sock.recv(65536))
            except socket.timeout:
                break
        return frames

    def close(self):
        self.sock.close()


class Guest(Background):
    """A compsc-vmm with VFs, running in the background (harness.Background)."""

    def __init__(self, vmm, guest, cmdline, vfs=(), mem="128M", extra=None):
        args = [vmm, "--guest", guest, "--mem", mem, "--cmdline", cmdline]
        for v in vfs:
            args += ["--vf", v]
        super().__init__(args + (extra or []))

    def wait_line(self, needle, timeout=20):
        return self.wait_for(needle, timeout)
