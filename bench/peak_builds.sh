#!/usr/bin/env bash
# Peak number of sandboxed builds at once for non-reproducible scenarios
# (all variations, so each culprit search rebuilds B once per variation and
# once with none), sampled every 5 ms from /proc: one scenario, then four
# with -j 4. Prints the peak for the default --max-builds and for an
# unbounded run (--max-builds 1024), which is what envtwin did before the
# bound.
#
#   bench/peak_builds.sh [ENVTWIN]      (default: this checkout, release)
. "$(dirname "$0")/common.sh" python3
envtwin=${1:-$envtwin}
mkdir -p "$work/s1" "$work/s4" "$work/w"
for n in 1 2 3 4; do
    printf 'name: noisy%s\nbuild: |\n  mkdir -p "$out"\n  sleep 0.5\n  date +%%N > "$out/stamp"\n' "$n" > "$work/s4/noisy$n.yaml"
done
cp "$work/s4/noisy1.yaml" "$work/s1/"
peak() {
    python3 - "$work/w" "$envtwin" run --workdir "$work/w" --format json "$@" <<'PY'
import os, subprocess, sys, time
marker, argv = sys.argv[1], sys.argv[2:]
def cmd(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return ""
def ppid(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return "0"
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
best = 0
while p.poll() is None:
    helpers = [d for d in os.listdir("/proc") if d.isdigit()
               and "__sandbox" in cmd(d) and marker in cmd(d)
               and "__sandbox" not in cmd(ppid(d))]
    best = max(best, len(helpers))
    time.sleep(0.005)
print(best)
PY
}
echo "1 scenario: peak builds at once, default --max-builds: $(peak "$work/s1")"
echo "1 scenario: peak builds at once, --max-builds 1024 (unbounded): $(peak --max-builds 1024 "$work/s1")"
echo "4 scenarios, -j 4: peak builds at once, default --max-builds: $(peak -j 4 "$work/s4")"
echo "4 scenarios, -j 4: peak builds at once, --max-builds 1024 (unbounded): $(peak -j 4 --max-builds 1024 "$work/s4")"
