#!/usr/bin/env python3
"""The control socket under hostile input: malformed JSON, over-long
lines, unknown commands, wrong argument types get error replies, and the
VMM keeps serving (and running its guest)."""
import json
import os

from harness import Tap, accel_problem
from miglib import Api, Vmm, run_cli, tmpdir

t = Tap()
CHECKS = ["greeting lists the commands", "malformed JSON: error reply", "a 200 KB line: one error, then served",
          "non-object and missing execute: error replies", "unknown command: CommandNotFound",
          "migrate with bad arguments: error replies", "pause stops the guest, resume restarts it",
          "query-migrate before any migration: status none", "compsc status prints the VM state",
          "the guest kept running through all of it", "quit ends the VMM with status 0",
          "compsc migrate --help: usage with every option, exit 0, nothing connected",
          "compsc usage errors (unknown option, missing --to, unknown subcommand): exit 2, no connect",
          "state machine: an incoming VM reports 'incoming' and refuses pause and migrate, saying why",
          "a VMM without a migration secret refuses to migrate, saying how to give it one"]
problem = accel_problem()
if problem:
    for c in CHECKS:
        t.skip(c, problem)
    t.done()

with tmpdir() as tmp:
    v = Vmm(tmp, "api")
    try:
        v.wait_out(r"alive at", 10)
        api = Api(v.sock)
        t.ok("migrate" in api.greeting["greeting"]["commands"], CHECKS[0], api.greeting)
        r = api.raw(b'{"execute": "status",,}\n')
        t.ok("malformed JSON" in r.get("error", {}).get("desc", ""), CHECKS[1], r)
        api.s.sendall(b"x" * 200000 + b"\n")
        r1 = api.reply()
        r2 = api.cmd("status")
        t.ok("line too long" in r1.get("error", {}).get("desc", "") and r2["return"]["state"] == "running",
             CHECKS[2], f"{r1} {r2}")
        r1 = api.raw(b"[1, 2, 3]\n")
        r2 = api.raw(b'{"arguments": {}}\n')
        t.ok("error" in r1 and "error" in r2, CHECKS[3], f"{r1} {r2}")
        r = api.raw(b'{"execute": "format-disk", "id": 7}\n')
        t.ok(r.get("error", {}).get("class") == "CommandNotFound" and r.get("id") == 7, CHECKS[4], r)
        bad = [api.cmd("migrate"), api.cmd("migrate", uri="udp:1.2.3.4:5"),
               api.cmd("migrate", uri="tcp:127.0.0.1:1", **{"downtime-ms": "soon"}),
               api.cmd("migrate", uri="tcp:127.0.0.1:1", colour="blue"),
               api.cmd("migrate", uri="tcp:127.0.0.1:1", **{"stall-stage": "lunch"}),
               api.raw(b'{"execute": "migrate", "arguments": [1]}\n')]
        t.ok(all("error" in r for r in bad), CHECKS[5], bad)
        api.cmd("pause")
        st = api.cmd("status")["return"]["state"]
        paused_quiet = not v.alive_after(1)
        api.cmd("resume")
        t.ok(st == "paused" and paused_quiet and v.alive_after(3), CHECKS[6], f"{st} {paused_quiet}\n{v.log()}")
        r = api.cmd("query-migrate")
        t.ok(r["return"]["status"] == "none", CHECKS[7], r)
        r = run_cli(["status", v.sock])
        rj = run_cli(["status", v.sock, "--json"])
        t.ok(r.returncode == 0 and f"VM {v.sock} (pid " in r.stdout and "): running, 128 MiB RAM, 1 vCPU" in r.stdout
             and "devices: platform" in r.stdout and rj.returncode == 0 and json.loads(rj.stdout)["state"] == "running",
             CHECKS[8], r.stdout + r.stderr + rj.stdout)
        t.ok(v.alive_after(3) and v.p.poll() is None, CHECKS[9], v.log())
        api.cmd("quit")
        t.ok(v.wait_exit(5) == 0, CHECKS[10], v.log())
    finally:
        v.stop()

    inc = Vmm(tmp, "inc", incoming=True)
    try:
        api = Api(inc.sock)
        st = api.cmd("status")["return"]["state"]
        rp = api.cmd("pause")
        rm = api.cmd("migrate", uri="tcp:127.0.0.1:1")
        t.ok(st == "incoming" and "cannot pause: the VM is incoming" in rp.get("error", {}).get("desc", "")
             and "error" in rm and inc.p.poll() is None, CHECKS[13], f"{st} {rp} {rm}")
    finally:
        inc.stop()

    secret = os.environ.pop("COMPSC_MIGRATION_TOKEN")
    try:
        nos = Vmm(tmp, "nosecret")
    finally:
        os.environ["COMPSC_MIGRATION_TOKEN"] = secret
    try:
        nos.wait_out(r"alive at", 10)
        r = Api(nos.sock).cmd("migrate", uri="tcp:127.0.0.1:1")
        t.ok("no migration secret" in r.get("error", {}).get("desc", "") and nos.alive_after(3), CHECKS[14],
             f"{r}\n{nos.log()}")
    finally:
        nos.stop()

    # The command line as a user meets it: --help never becomes a socket
    # path, bad options are named, and nothing connects before the
    # arguments are right (the socket paths here do not exist).
    r = run_cli(["migrate", "--help"])
    t.ok(r.returncode == 0 and "Usage: compsc migrate VM --to tcp:HOST:PORT" in r.stdout
         and all(o in r.stdout for o in ("--downtime-ms", "--bandwidth", "--max-rounds", "--max-precopy-ms",
                                          "--timeout-ms", "--json"))
         and "cannot connect" not in r.stderr, CHECKS[11], r.stdout + r.stderr)
    nowhere = f"{tmp}/nowhere.sock"
    bad = [run_cli(["migrate", nowhere, "--to", "tcp:127.0.0.1:1", "--bogus", "1"]),
           run_cli(["migrate", nowhere]), run_cli(["frob", nowhere])]
    t.ok([b.returncode for b in bad] == [2, 2, 2] and "unknown option '--bogus'" in bad[0].stderr
         and "--to tcp:HOST:PORT is required" in bad[1].stderr and "unknown subcommand 'frob'" in bad[2].stderr
         and not any("cannot connect" in b.stderr for b in bad), CHECKS[12],
         "\n".join(b.stderr for b in bad))
t.done()
