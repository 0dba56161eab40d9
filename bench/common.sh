# Shared set-up of the benchmarks, sourced by each: check the tools, build
# envtwin in release, make a work dir removed on exit, say what the machine
# is doing (the figures are ratios measured in one run on a shared machine).
#
#   . "$(dirname "$0")/common.sh" TOOL...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required (apt-get install -y $tool)" >&2; exit 2; }
done
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
envtwin="$here/target/release/envtwin"
work=$(mktemp -d "${TMPDIR:-/tmp}/envtwin-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Mean time in seconds from a hyperfine --export-json file.
mean() { python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }

# The trivial scenario (two sandboxed builds, probes, hashes) into file $1.
trivial_scenario() {
    cat > "$1" <<'YAML'
name: trivial
build: |
  mkdir -p "$out/bin"
  printf '#!/bin/sh\necho hi\n' > "$out/bin/hi"
  chmod +x "$out/bin/hi"
expect:
  which: {hi: $out/bin/hi}
YAML
}
