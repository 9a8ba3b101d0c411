"""Helpers for migration tests: VMM processes with control sockets, a
control-socket client, a TCP proxy that injects faults into the
migration stream (corrupt a byte, truncate, cut, black-hole), and one that
understands its records (RecordProxy: a man in the middle)."""
import json
import struct
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import GUEST, VMM

COMPSC = os.environ.get("COMPSC_CLI", os.path.join(os.path.dirname(VMM), "..", "tools", "compsc"))


class Vmm:
    """One compsc-vmm with --api; stdout/stderr collected line by line."""

    def __init__(self, tmp, name, mem="128M", cmdline="app=memcheck report-ms=200", incoming=False,
                 extra=None, env=None):
        self.name = name
        self.sock = os.path.join(tmp, f"{name}.sock")
        args = [VMM, "--guest", GUEST, "--mem", mem, "--api", self.sock, "--log-level", "info"]
        if incoming:
            args += ["--incoming", "tcp:127.0.0.1:0"]
        else:
            args += ["--cmdline", cmdline]
        self.p = subprocess.Popen(args + (extra or []), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, errors="replace", env=dict(os.environ, **(env or {})))
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._reader, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._reader, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()
        self.port = None
        if incoming:
            m = self.wait_err(r"listening on .* \(port (\d+)\)", 10)
            self.port = int(m.group(1)) if m else None
        deadline = time.time() + 10
        while not os.path.exists(self.sock) and time.time() < deadline and self.p.poll() is None:
            time.sleep(0.01)

    def _reader(self, stream, lines):
        for line in stream:
            with self.cond:
                lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _wait(self, lines, pattern, timeout, start=0):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(lines):
                    m = rx.search(lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.time()
                if left <= 0 or (self.p.poll() is not None and
                                 all(not t.is_alive() for t in self.threads)):
                    return None
                self.cond.wait(min(left, 0.1))

    def wait_out(self, pattern, timeout=10, start=0):
        return self._wait(self.out, pattern, timeout, start)

    def wait_err(self, pattern, timeout=10, start=0):
        return self._wait(self.err, pattern, timeout, start)

    def alive_after(self, timeout=5):
        """True if the guest prints a new heartbeat line from now on."""
        with self.cond:
            start = len(self.out)
        return self.wait_out(r"alive at \d+ ms: check \d+ ok", timeout, start) is not None

    def wait_exit(self, timeout=10):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait(5)

    def stop(self):
        if self.p.poll() is None:
            try:
                Api(self.sock).cmd("quit")
            except OSError:
                pass
            if self.wait_exit(5) is None:
                self.kill()
        for t in self.threads:
            t.join(2)

    def log(self):
        with self.cond:
            return (f"--- {self.name} exit {self.p.poll()}\n--- stdout\n" + "\n".join(self.out[-30:]) +
                    "\n--- stderr\n" + "\n".join(self.err[-30:]) + "\n")


class Api:
    def __init__(self, path, timeout=10):
        # The socket file appears at bind(), a moment before listen():
        # retry a refused connection briefly (a loaded machine widens it).
        deadline = time.time() + 5
        while True:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(timeout)
            try:
                self.s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        self.buf = b""
        self.events = []
        self.greeting = self.read()

    def read(self, timeout=10):
        self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def raw(self, data):
        self.s.sendall(data)
        return self.reply()

    def reply(self, timeout=10):
        while True:
            m = self.read(timeout)
            if "event" in m:
                self.events.append(m)
                continue
            return m

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        return self.reply()

    def wait_event(self, pred, timeout=20):
        deadline = time.time() + timeout
        for e in self.events:
            if pred(e):
                return e
        while time.time() < deadline:
            try:
                m = self.read(max(0.05, deadline - time.time()))
            except socket.timeout:
                return None
            except (EOFError, OSError):
                return None
            if "event" in m:
                self.events.append(m)
                if pred(m):
                    return m
        return None

    def wait_final(self, timeout=30):
        e = self.wait_event(lambda e: e["event"] == "MIGRATION" and
                            e["data"]["status"] in ("completed", "failed", "cancelled", "outcome-unknown"),
                            timeout)
        return e["data"] if e else None

    def wait_stage(self, stage, timeout=20):
        return self.wait_event(lambda e: e["event"] == "MIGRATION" and e["data"]["stage"] == stage, timeout)

    def close(self):
        self.s.close()


def _listener():
    """A socket listening on 127.0.0.1 (any port) for one source: (socket, port)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    return ls, ls.getsockname()[1]


def _accept_and_connect(ls, target_port):
    """The source's connection, accepted on ls, and ours to the destination
    at target_port; (None, None) if ls was closed first."""
    try:
        a, _ = ls.accept()
    except OSError:
        return None, None
    return a, socket.create_connection(("127.0.0.1", target_port))


class Proxy:
    """TCP proxy between a source and a destination.
    mode None: forward; "corrupt": flip a byte at offset `at` of the
    source->destination stream; "truncate": forward `at` bytes to the
    destination, then end that direction (EOF mid-record), keep the other;
    "cut": after `at` bytes close both connections abruptly;
    "blackhole": after `at` bytes stop forwarding, keep connections open
    until close()."""

    def __init__(self, target_port, mode=None, at=0):
        self.target = target_port
        self.mode, self.at = mode, at
        self.ls, self.port = _listener()
        self.stop = False
        self.triggered = threading.Event()
        self.conns = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        a, b = _accept_and_connect(self.ls, self.target)
        if not a:
            return
        self.conns = [a, b]
        sent = 0
        a_open = True
        while not self.stop:
            r, _, _ = select.select([a, b] if a_open else [b], [], [], 0.1)
            for s in r:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if s is a:
                    if not data:
                        b.shutdown(socket.SHUT_WR)
                        a_open = False
                        continue
                    if self.mode and sent + len(data) > self.at and not self.triggered.is_set():
                        cut = self.at - sent
                        if self.mode == "corrupt":
                            data = data[:cut] + bytes([data[cut] ^ 0x5a]) + data[cut + 1:]
                            self.triggered.set()
                        elif self.mode == "truncate":
                            b.sendall(data[:cut])
                            b.shutdown(socket.SHUT_WR)
                            self.triggered.set()
                            a_open = False
                            continue
                        elif self.mode == "cut":
                            b.sendall(data[:cut])
                            self.triggered.set()
                            for c in (a, b):
                                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                                c.close()
                            return
                        elif self.mode == "blackhole":
                            b.sendall(data[:cut])
                            self.triggered.set()
                            while not self.stop:
                                time.sleep(0.05)
                            break
                    elif self.triggered.is_set() and self.mode == "truncate":
                        continue
                    sent += len(data)
                    b.sendall(data)
                else:
                    if not data:
                        try:
                            a.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        self.stop = True
                        break
                    try:
                        a.sendall(data)
                    except OSError:
                        pass
        time.sleep(0.2)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.ls.close()
        self.t.join(3)


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="compsc-mig-")


def run_cli(args, timeout=60):
    p = subprocess.run([COMPSC] + args, capture_output=True, text=True, timeout=timeout)
    return p


# ---- the stream's framing, for tests that act on records ------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xffffffff
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


REC = {"HELLO": 0x01, "HELLO_ACK": 0x02, "AUTH": 0x03, "RESERVE": 0x04, "RESERVE_ACK": 0x05, "ROUND": 0x10,
       "RAM": 0x11, "SYNC": 0x12, "DEVICE": 0x40, "END": 0x50, "READY": 0x60, "COMMIT": 0x61,
       "ACTIVATED": 0x62, "ERROR": 0x70, "CANCEL": 0x71}
S2D, D2S = "s2d", "d2s"


class Record:
    """One record as it crossed the proxy. sealed: its trailer is a 16-byte
    AES-GCM tag (body ciphertext), else a CRC32C."""

    def __init__(self, direction, index, hdr, body, trailer, sealed):
        self.direction, self.index = direction, index
        self.type, self.flags, self.length = struct.unpack("<HHI", hdr)
        self.hdr, self.body, self.trailer, self.sealed = hdr, body, trailer, sealed

    @property
    def raw(self):
        return self.hdr + self.body + self.trailer

    def rebuilt(self, body=None, rtype=None):
        """The record with another body/type: a correct CRC when the stream
        is plaintext (what anyone on the path can compute), the old tag
        when it is sealed (nobody without the key can compute a new one)."""
        body = self.body if body is None else body
        hdr = struct.pack("<HHI", self.type if rtype is None else rtype, self.flags, len(body))
        if self.sealed:
            return hdr + body + self.trailer
        return hdr + body + struct.pack("<I", crc32c(hdr + body))


def forged(rtype, body, sealed):
    """A record made up on the path: CRC in plaintext, a guessed tag when sealed."""
    hdr = struct.pack("<HHI", rtype, 1, len(body))
    return hdr + body + (os.urandom(16) if sealed else struct.pack("<I", crc32c(hdr + body)))


class RecordProxy:
    """A man in the middle that parses the migration stream in both
    directions (preamble, then records) and hands each record to
    on_record(proxy, record), which returns the bytes to forward instead
    (a list; [record.raw] forwards it unchanged) and may inject into
    either direction with proxy.send(direction, data). The handshake
    records carry CRCs; whether the records after it are sealed (16-byte
    tag) or plaintext (CRC) is found from the first of them. capture:
    keep every byte the source sent (proxy.seen[S2D])."""

    def __init__(self, target_port, on_record=None, capture=False):
        self.target = target_port
        self.on_record = on_record or (lambda px, rec: [rec.raw])
        self.capture = capture
        self.seen = {S2D: bytearray(), D2S: bytearray()}
        self.records = {S2D: [], D2S: []}
        self.sealed = {S2D: None, D2S: None}
        self.state = {}		# for the attack's own use
        self.ls, self.port = _listener()
        self.locks = {S2D: threading.Lock(), D2S: threading.Lock()}
        self.socks = {}
        self.error = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def send(self, direction, data):
        with self.locks[direction]:
            try:
                self.socks[direction].sendall(data)
            except OSError:
                pass

    def _run(self):
        a, b = _accept_and_connect(self.ls, self.target)
        if not a:
            return
        self.socks = {S2D: b, D2S: a}
        th = threading.Thread(target=self._pump, args=(b, a, D2S), daemon=True)
        th.start()
        self._pump(a, b, S2D)
        th.join(10)

    def _pump(self, src, dst, direction):
        buf = bytearray()
        handshake_left = 2 if direction == S2D else 1	# HELLO, AUTH / HELLO_ACK
        pos_pre = False
        index = 0
        try:
            while True:
                data = src.recv(1 << 20)
                if not data:
                    break
                if self.capture:
                    self.seen[direction] += data
                buf += data
                out = []
                while True:
                    if not pos_pre:
                        if len(buf) < 16:
                            break
                        out.append(bytes(buf[:16]))
                        del buf[:16]
                        pos_pre = True
                        continue
                    if len(buf) < 8:
                        break
                    length = struct.unpack_from("<I", buf, 4)[0]
                    if len(buf) < 8 + length + 4:
                        break
                    if handshake_left > 0:
                        sealed = False
                    elif self.sealed[direction] is None:
                        crc = struct.unpack_from("<I", buf, 8 + length)[0]
                        if crc32c(bytes(buf[:8 + length])) == crc:
                            self.sealed[direction] = False
                        elif len(buf) < 8 + length + 16:
                            break
                        else:
                            self.sealed[direction] = True
                        sealed = self.sealed[direction]
                    else:
                        sealed = self.sealed[direction]
                    tlen = 16 if sealed else 4
                    if len(buf) < 8 + length + tlen:
                        break
                    rec = Record(direction, index, bytes(buf[:8]), bytes(buf[8:8 + length]),
                                 bytes(buf[8 + length:8 + length + tlen]), sealed)
                    del buf[:8 + length + tlen]
                    index += 1
                    handshake_left -= 1
                    self.records[direction].append((rec.type, rec.length))
                    out.extend(self.on_record(self, rec))
                if out:
                    with self.locks[direction]:
                        dst.sendall(b"".join(out))
        except OSError as e:
            self.error = str(e)
        except Exception as e:	# a bug in an attack: say so in the diagnostics
            self.error = repr(e)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.ls.close()
        for s in self.socks.values():
            try:
                s.close()
            except OSError:
                pass
        self.t.join(3)
