#!/usr/bin/env bash
# The cost of the `fileordering` variation (issue 12): build B serves `$src`,
# its build directory and `$out` through disorderfs, build A does not. Three
# builds, each run RUNS times with `--vary fileordering` (A plain, B through
# FUSE) and with `--no-vary` (both plain: how far apart the twins are anyway
# on this machine): a trivial one (the daemons' start-up), 20,000 small files
# written in the build directory and tarred into $out, and
# `python3 -m venv $out` (ensurepip installs pip and setuptools from the
# local wheels into $out: about 1,900 files, no network). Prints the median
# build time of A and B and the ratio B/A.
#
#   bench/fileordering.sh [RUNS]      (apt-get install -y disorderfs)
. "$(dirname "$0")/common.sh" python3 disorderfs
runs=${1:-5}
trivial_scenario "$work/trivial.yaml"
cat > "$work/files.yaml" <<'YAML'
name: files
timeout: 600
build: |
  mkdir -p "$out" work
  python3 - <<'PY'
  import os
  for d in range(200):
      os.mkdir(f"work/d{d}")
      for f in range(100):
          with open(f"work/d{d}/f{f}.txt", "w") as fh:
              fh.write("x" * 100)
  PY
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out/work.tar" work
YAML
cat > "$work/venv.yaml" <<'YAML'
name: venv
timeout: 600
build: |
  export PYTHONHASHSEED=0 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
  export PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null PIP_ROOT_USER_ACTION=ignore
  /usr/bin/python3 -m venv "$out"
  find "$out" -name '*.pyc' -delete
YAML
for s in trivial files venv; do
    for mode in "--vary fileordering" "--no-vary"; do
        for _ in $(seq "$runs"); do
            # shellcheck disable=SC2086
            "$envtwin" run --no-explain --format json $mode "$work/$s.yaml" || true
        done | python3 -c '
import json, statistics, sys
dec = json.JSONDecoder()
text, at, a, b = sys.stdin.read(), 0, [], []
while at < len(text.rstrip()):
    r, at = dec.raw_decode(text, at)
    while at < len(text) and text[at].isspace():
        at += 1
    builds = r["scenarios"][0]["builds"]
    a.append(builds["a"]["duration_ms"]); b.append(builds["b"]["duration_ms"])
ma, mb = statistics.median(a), statistics.median(b)
print("%-8s %-20s A %6d ms  B %6d ms  B/A %.2f  (medians of %d)" % (sys.argv[1], sys.argv[2], ma, mb, mb / ma, len(a)))
' "$s" "$mode"
    done
done
