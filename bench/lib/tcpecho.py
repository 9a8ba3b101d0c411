#!/usr/bin/env python3
"""One TCP connection to the guest's echo service (port 7), kept busy:

  tcpecho.py HOST SECS [INTERVAL_MS]

sends a numbered 32-byte line every INTERVAL_MS (20) for SECS seconds and
reads the echoes; then waits up to 3 s for the last ones. Prints one JSON
object: whether the connection was made, whether it was reset or closed
by the other end, lines sent and echoed back, the longest time without
any echo while lines were outstanding."""
import json
import socket
import sys
import time

host, secs = sys.argv[1], float(sys.argv[2])
interval = (float(sys.argv[3]) if len(sys.argv) > 3 else 20.0) / 1000
out = {"connected": False, "reset": False, "closed": False, "sent": 0, "echoed": 0, "longest_gap_ms": 0.0}
try:
    s = socket.create_connection((host, 7), timeout=5)
    out["connected"] = True
except OSError as e:
    out["error"] = str(e)
    print(json.dumps(out))
    sys.exit(0)
s.setblocking(False)
start = last_echo = time.monotonic()
buf, next_send = b"", start
end = start + secs
while True:
    now = time.monotonic()
    if now >= end + 3 or (now >= end and out["echoed"] * 32 >= out["sent"] * 32):
        break
    if now < end and now >= next_send:
        try:
            s.send(f"{out['sent']:031d}\n".encode())
            out["sent"] += 1
        except BlockingIOError:
            pass
        except OSError:
            out["reset"] = True
            break
        next_send += interval
    try:
        data = s.recv(65536)
        if not data:
            out["closed"] = True
            break
        buf += data
        n = len(buf) // 32
        if n:
            out["echoed"] += n
            buf = buf[n * 32:]
            out["longest_gap_ms"] = max(out["longest_gap_ms"], (now - last_echo) * 1000)
            last_echo = now
    except BlockingIOError:
        time.sleep(0.002)
    except OSError:
        out["reset"] = True
        break
print(json.dumps(out))
