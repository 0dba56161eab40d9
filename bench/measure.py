#!/usr/bin/env python3
"""Time commands interleaved (run 1 of each, run 2 of each, ...) and print,
per command, the median wall time in ms and the max RSS in MiB, as
JSON: {"label": {"ms": 12.3, "rss_mib": 4.5, "status": 0}, ...}.

    measure.py RUNS LABEL=CMD [LABEL=CMD ...]

CMD is split on spaces (no quoting: the benchmark's paths have none). The
first run of each command is a warm-up and not counted. Max RSS comes from
one more run of each under `/usr/bin/time -f %M` (not timed): wait4(2) on
a child forked from Python would count Python's own pages.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time


def run(argv):
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = proc.wait()
    return (time.perf_counter() - t0) * 1000, code


def max_rss_mib(argv):
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return int(out.read().split()[-1]) / 1024


def main():
    runs = int(sys.argv[1])
    cmds = [arg.split("=", 1) for arg in sys.argv[2:]]
    times = {label: [] for label, _ in cmds}
    rss = {label: 0.0 for label, _ in cmds}
    status = {}
    for i in range(runs + 1):
        for label, cmd in cmds:
            ms, code = run(cmd.split(" "))
            status[label] = code
            if i > 0:
                times[label].append(ms)
    for label, cmd in cmds:
        rss[label] = max_rss_mib(cmd.split(" "))
    out = {
        label: {
            "ms": round(statistics.median(times[label]), 1),
            "rss_mib": round(rss[label], 1),
            "status": status[label],
        }
        for label, _ in cmds
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
