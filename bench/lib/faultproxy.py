#!/usr/bin/env python3
"""A TCP proxy on the migration path that injects faults on command
(bench/faults.py runs it in the source host's namespace):

  faultproxy.py LISTEN_HOST:PORT TARGET_HOST:PORT

Prints "listening" once ready. Then reads commands, one per line, from
stdin; each takes effect at once and prints "ok COMMAND":

  cut         the network is gone: both connections are reset (RST)
  blackhole   the network stops delivering: nothing more is forwarded in
              either direction, the connections stay open (timeouts must
              notice)
  corrupt     the next bytes towards the destination have one bit flipped
  corrupt-back   the same towards the source
  forge       a third party injects well-formed records (valid header and
              CRC, made-up contents: COMMIT towards the destination, READY
              and ERROR towards the source), between two forwarded chunks
  quit        closes everything and exits

One connection is proxied (the migration's); the listener then closes."""
import os
import select
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from miglib import crc32c  # noqa: E402


def record(rtype, body=b""):
    """A record as vmm/migration/stream.c frames it (plaintext layout)."""
    hdr = struct.pack("<HHI", rtype, 1, len(body))
    return hdr + body + struct.pack("<I", crc32c(hdr + body))


COMMIT, READY, ERROR = 0x0061, 0x0060, 0x0070


def verdict(status, reason):
    return struct.pack("<iI", status, len(reason)) + reason


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def main():
    listen, target = hostport(sys.argv[1]), hostport(sys.argv[2])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(listen)
    ls.listen(1)
    print("listening", flush=True)
    state = {"mode": None, "corrupt": None, "forge": False, "quit": False}
    lock = threading.Lock()

    def commands():
        for line in sys.stdin:
            cmd = line.strip()
            with lock:
                if cmd in ("cut", "blackhole"):
                    state["mode"] = cmd
                elif cmd in ("corrupt", "corrupt-back"):
                    state["corrupt"] = cmd
                elif cmd == "forge":
                    state["forge"] = True
                elif cmd == "quit":
                    state["quit"] = True
            print(f"ok {cmd}", flush=True)
        with lock:
            state["quit"] = True

    threading.Thread(target=commands, daemon=True).start()
    ls.settimeout(0.2)
    a = None
    while a is None:
        with lock:
            if state["quit"]:
                return
        try:
            a, _ = ls.accept()
        except socket.timeout:
            continue
    ls.close()
    b = socket.create_connection(target)
    open_ = {a: True, b: True}
    while True:
        with lock:
            mode, corrupt, forge, quit_ = state["mode"], state["corrupt"], state["forge"], state["quit"]
            state["forge"] = False
        if quit_:
            break
        if mode == "cut":
            for s in (a, b):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            print("cut done", flush=True)
            while not state["quit"]:
                select.select([], [], [], 0.1)
            return
        if forge:
            try:
                b.sendall(record(COMMIT))
                a.sendall(record(READY, verdict(0, b"forged")) + record(ERROR, verdict(-5, b"forged")))
            except OSError:
                pass
            print("forged", flush=True)
        r, _, _ = select.select([s for s in (a, b) if open_[s]], [], [], 0.05)
        if mode == "blackhole":
            # Read and drop: the peers' kernels keep the connection up, as
            # a network that silently stopped delivering would.
            for s in r:
                try:
                    s.recv(1 << 16)
                except OSError:
                    pass
            continue
        for s in r:
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b""
            other = b if s is a else a
            if not data:
                open_[s] = False
                try:
                    other.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            want = "corrupt" if s is a else "corrupt-back"
            if corrupt == want:
                mid = len(data) // 2
                data = data[:mid] + bytes([data[mid] ^ 0x10]) + data[mid + 1:]
                with lock:
                    state["corrupt"] = None
                print(f"{want} done", flush=True)
            try:
                other.sendall(data)
            except OSError:
                open_[s] = False
        if not any(open_.values()):
            break
    for s in (a, b):
        try:
            s.close()
        except OSError:
            pass


if __name__ == "__main__":
    main()
