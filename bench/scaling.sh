#!/usr/bin/env bash
# Issue 10: does `envtwin run -j2` use both cores? 16 trivial scenarios
# (`build: "echo hi > $out/x"`), run with -j1 to learn the CPU time per
# scenario (user + sys of envtwin and everything it started, / 16), then
# timed with -j2 against the ideal: 16 x that CPU time / 2.
#
#   bench/scaling.sh [RUNS]     (default 5 runs of each, interleaved, medians)
#   OLD=/path/to/old/envtwin bench/scaling.sh    (that binary too, same runs)
#
# Prints the ratio wall(-j2) / ideal; the target is <= 1.3. Run as root or
# as an ordinary user (user namespaces), as `envtwin run` itself.
RUNS=${1:-5}
. "$(dirname "$0")/common.sh" python3
mkdir -p "$work/s"
for i in $(seq -w 1 16); do
    printf 'name: s%s\nbuild: "echo hi > $out/x"\n' "$i" >"$work/s/s$i.yaml"
done
"$envtwin" run -j2 "$work/s" >"$work/out.txt" || { cat "$work/out.txt" >&2; exit 1; }
tail -1 "$work/out.txt"
python3 - "$RUNS" "$work/s" "$envtwin" ${OLD:+"$OLD"} <<'PY'
import os, statistics, subprocess, sys, time
runs, scenarios, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3:]

def run(envtwin, jobs):
    """Wall seconds and CPU seconds (user + sys of envtwin and its children)."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run([envtwin, "run", "-j%d" % jobs, scenarios], stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)

times = {b: ([], []) for b in binaries}
for _ in range(runs + 1):  # the first round warms up and is not counted
    for b in binaries:
        times[b][0].append(run(b, 1))
        times[b][1].append(run(b, 2))
for b in binaries:
    j1, j2 = times[b][0][1:], times[b][1][1:]
    cpu = statistics.median(c for _, c in j1) / 16
    wall1 = statistics.median(w for w, _ in j1)
    wall2 = statistics.median(w for w, _ in j2)
    cpu2 = statistics.median(c for _, c in j2) / 16
    ideal = 16 * cpu / 2
    print("%s:" % ("envtwin" if b == binaries[0] else "OLD " + b))
    print("  -j1: wall %.3f s, CPU per scenario %.1f ms" % (wall1, cpu * 1000))
    print("  -j2: wall %.3f s, CPU per scenario %.1f ms" % (wall2, cpu2 * 1000))
    print("  ideal -j2 wall (16 x CPU per scenario / 2): %.3f s" % ideal)
    print("  ratio -j2 wall / ideal: %.2f (target <= 1.3)" % (wall2 / ideal))
PY
