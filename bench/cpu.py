#!/usr/bin/env python3
"""Where the CPU went between two snapshots of /proc, grouped by command line.

  cpu.py snap FILE        record every process's CPU ticks (and its waited-for children's)
  cpu.py diff A B [N]     the N (8) largest consumers from A to B, in % of the ticks spent
  cpu.py per_request A B JSON   JSON (a run's result, with "requests") plus the CPU µs per
                          request of PostgreSQL, the gateway and the workers from A to B, and
                          the daemons' context switches per request

Exited children count under their parent ("exited children of postgres -D ..."): that is where
short-lived backends, walsenders and table-sync workers end up."""
import collections
import json
import os
import re
import sys


def snap(path):
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            cmd = open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2:].split()
        switches = 0
        try:  # every thread's, for the daemons (a process's own line counts its main thread)
            for tid in os.listdir(f"/proc/{pid}/task"):
                for line in open(f"/proc/{pid}/task/{tid}/status"):
                    if "ctxt_switches" in line:
                        switches += int(line.split()[1])
        except OSError:
            pass
        out[pid] = (cmd or stat[stat.index("(") + 1:stat.rindex(")")], int(f[11]) + int(f[12]),
                    int(f[13]) + int(f[14]), switches)
    json.dump(out, open(path, "w"))


def group(cmd):
    cmd = re.sub(r"\d+\.\d+\.\d+\.\d+\(\d+\)", "", cmd)  # client address of a backend
    cmd = re.sub(r"(postgres: [^ ]+ [^ ]+) .*", r"\1", cmd)  # its current statement
    cmd = re.sub(r" --.*", "", cmd)  # a daemon's options
    return re.sub(r"/tmp/[^ ]*/", "", cmd).strip()[:70]


def diff(a_path, b_path, n=8):
    a, b = json.load(open(a_path)), json.load(open(b_path))
    ticks = collections.Counter()
    for pid, (cmd, own, children, _) in b.items():
        own0, children0 = a[pid][1:3] if pid in a else (0, 0)
        ticks[group(cmd)] += own - own0
        if children - children0:
            ticks["exited children of " + group(cmd)] += children - children0
    total = sum(ticks.values()) or 1
    for name, t in ticks.most_common(int(n)):
        print(f"  {100 * t / total:5.1f}%  {name}")


def per_request(a_path, b_path, result):
    a, b = json.load(open(a_path)), json.load(open(b_path))
    r = json.loads(result)
    hz = os.sysconf("SC_CLK_TCK")
    kinds = {"db": "postgres", "gateway": "quiz-gateway", "worker": "quiz-worker"}
    ticks, switches = collections.Counter(), collections.Counter()
    for pid, (cmd, own, children, sw) in b.items():
        own0, children0, sw0 = a[pid][1:] if pid in a else (0, 0, 0)
        program = cmd.split(" ")[0].rstrip(":").rsplit("/", 1)[-1]  # "postgres:" for a backend
        for kind, name in kinds.items():
            if program == name:
                ticks[kind] += own - own0 + children - children0
                switches[kind] += sw - sw0
    n = max(r.get("requests", 0), 1)
    for kind in kinds:
        r[f"{kind}_cpu_us"] = round(ticks[kind] * 1e6 / hz / n, 1)
    for kind in ("gateway", "worker"):
        r[f"{kind}_switches"] = round(switches[kind] / n, 2)
    print(json.dumps(r))


if __name__ == "__main__":
    {"snap": snap, "diff": diff, "per_request": per_request}[sys.argv[1]](*sys.argv[2:])
