#!/usr/bin/env python3
"""ferrbot start-up time and idle memory with the console backend, measured the way the Errbot
baseline was (shared/bench/errbot/bench_startup_rss.py), so the two can be compared.

Usage: python3 scripts/bench/startup_rss.py --ferrbot target/release/ferrbot [--runs 7] [--idle 5]

Method:
  * Each run: t0 just before spawning `ferrbot run --user bench` (console backend, SQLite in a
    throw-away data directory, built-in commands), stdin/stdout as pipes. "!whoami" is written
    to stdin at once; t_ready = the reply line on stdout (the first command answered). The
    console has no prompt when piped, so the first reply is the comparable figure.
  * One untimed warm-up run creates the database; timed runs reuse it (a restart): median,
    min and max are reported. The cold (first) run is reported apart.
  * Memory: in the last run the process idles --idle seconds after answering, then VmRSS,
    VmHWM and Threads are read from /proc/PID/status and Pss from /proc/PID/smaps_rollup;
    then stdin is closed (end of input: graceful shutdown) and the exit is awaited.
Loopback only; nothing listens on the network (no config means no web server).
"""
import argparse
import os
import select
import statistics
import subprocess
import tempfile
import time


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM", "Threads")):
                k, v = line.split(":", 1)
                out[k] = v.strip()
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return out


def one_run(binary, data, idle=0.0, timeout=30):
    env = dict(os.environ, FERRBOT_DATA_DIR=data)
    env.pop("FERRBOT_CONFIG", None)
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "run", "--user", "bench"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(b"!whoami\n")
    p.stdin.flush()
    buf = b""
    t_ready = None
    fd = p.stdout.fileno()
    while t_ready is None and time.perf_counter() - t0 < timeout:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        if b"You are bench" in buf:
            t_ready = time.perf_counter() - t0
    mem = None
    if idle:
        time.sleep(idle)
        mem = proc_mem(p.pid)
    p.stdin.close()
    p.wait(timeout=timeout)
    if t_ready is None:
        raise SystemExit("no reply from ferrbot")
    return t_ready * 1000, mem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrbot", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--idle", type=float, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        cold, _ = one_run(args.ferrbot, data)
        times = []
        mem = None
        for i in range(args.runs):
            t, m = one_run(args.ferrbot, data, idle=args.idle if i == args.runs - 1 else 0)
            times.append(t)
            mem = m or mem
    print(f"cold data dir (first run): first reply {cold:.1f} ms")
    print(f"restart, {args.runs} runs: first reply median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f} ms, max {max(times):.1f} ms)")
    print(f"idle process after {args.idle:g} s: {mem}")


if __name__ == "__main__":
    main()
