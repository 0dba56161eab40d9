#!/usr/bin/env bash
# Benchmark envtwin's tree hash and diff against `nix hash path` and
# `diff -r` on a generated tree of 20,000 files / ~230 MB (page cache warm).
#
#   bench/hash_diff.sh [FILES] [MEGABYTES]
#
# Prints the median time of each command and the ratios envtwin/nix and
# envtwin/diff-r; the target is both <= 1.0. Then 10 files of T2 change
# (text, a binary, a zip, a tar.gz) and it prints `envtwin diff` (listing
# and explaining them) over hashing both trees; the target is <= 2.0.
# Uses hyperfine when installed (apt-get install -y hyperfine), else a
# median of 5 timed runs.
FILES=${1:-20000}
MEGABYTES=${2:-230}
RUNS=5
. "$(dirname "$0")/common.sh" nix python3 diff
nix --version

echo "generating $FILES files / ~$MEGABYTES MB in $work/t1..."
python3 - "$work/t1" "$FILES" "$MEGABYTES" <<'EOF'
import os, random, sys
root, nfiles, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
# Sizes like a software environment: mostly small files, a few large ones.
sizes = []
for _ in range(nfiles):
    r = rng.random()
    if r < 0.70:
        sizes.append(rng.randint(0, 4096))
    elif r < 0.97:
        sizes.append(rng.randint(4096, 65536))
    else:
        sizes.append(rng.randint(65536, 4 << 20))
scale = mb * 1_000_000 / max(1, sum(sizes))
sizes = [int(s * scale) for s in sizes]
# Nested directories: lib/pkgN/sub/..., up to 4 levels, ~50 files each.
dirs = [""]
while len(dirs) < max(1, nfiles // 50):
    parent = rng.choice(dirs)
    if parent.count("/") < 4:
        dirs.append(os.path.join(parent, "d%d" % len(dirs)))
os.makedirs(root)
for d in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)
blob = rng.randbytes(8 << 20)  # seeded: the same tree every run
paths = []
for i, size in enumerate(sizes):
    p = os.path.join(root, rng.choice(dirs), "f%05d" % i)
    start = rng.randrange(0, len(blob) - min(size, len(blob)) + 1)
    with open(p, "wb") as f:
        left = size
        while left > 0:  # files larger than the blob repeat it
            chunk = blob[start:start + left] if start + left <= len(blob) else blob[start:]
            f.write(chunk)
            left -= len(chunk)
            start = 0
    if rng.random() < 0.1:
        os.chmod(p, 0o755)
    paths.append(p)
for i in range(nfiles // 40):
    target = os.path.relpath(rng.choice(paths), root)
    if rng.random() < 0.1:
        target = "dangling/%d" % i
    os.symlink(target, os.path.join(root, "link%04d" % i))
EOF
cp -a "$work/t1" "$work/t2"
du -sh "$work/t1" | sed 's/^/tree size: /'
echo "files: $(find "$work/t1" -type f | wc -l), symlinks: $(find "$work/t1" -type l | wc -l)"

# Same answer first: a benchmark of a wrong hash is worthless.
ours=$("$envtwin" hash "$work/t1")
theirs=$(nix --extra-experimental-features nix-command hash path "$work/t1")
if [ "$ours" != "$theirs" ]; then
    echo "bench: hash mismatch: envtwin $ours, nix $theirs" >&2
    exit 1
fi
echo "hash: $ours (equal to nix hash path)"
if ! "$envtwin" diff "$work/t1" "$work/t2" >/dev/null; then
    echo "bench: envtwin diff finds differences between a tree and its copy" >&2
    exit 1
fi

# Let writeback of the fresh trees finish (it skews every timing), then
# warm the page cache for both trees.
sync
find "$work" -type f -exec cat {} + >/dev/null

# median_ms CMD...: median wall time of $RUNS runs in milliseconds.
median_ms() {
    if command -v hyperfine >/dev/null; then
        local json="$work/hf.json"
        # -i: diff exits 1 when the trees differ (the last, informative runs).
        hyperfine --style none --warmup 1 --runs "$RUNS" -N -i --export-json "$json" "$*" >/dev/null
        python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["results"][0]["median"]*1000, 1))' "$json"
    else
        local times=() t0 t1
        "$@" >/dev/null || true
        for _ in $(seq "$RUNS"); do
            t0=$(date +%s%N)
            "$@" >/dev/null || true
            t1=$(date +%s%N)
            times+=($(( (t1 - t0) / 1000 )))
        done
        printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" |
            awk '{printf "%.1f\n", $1 / 1000}'
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

h_env=$(median_ms "$envtwin" hash "$work/t1")
h_nix=$(median_ms nix --extra-experimental-features nix-command hash path "$work/t1")
d_env=$(median_ms "$envtwin" diff "$work/t1" "$work/t2")
d_diff=$(median_ms diff -r --no-dereference "$work/t1" "$work/t2")

echo
printf '%-34s %10s ms\n' "envtwin hash T1" "$h_env" "nix hash path T1" "$h_nix" \
    "envtwin diff T1 T2" "$d_env" "diff -r --no-dereference T1 T2" "$d_diff"
echo "ratio envtwin/nix:    $(ratio "$h_env" "$h_nix")"
echo "ratio envtwin/diff-r: $(ratio "$d_env" "$d_diff")"

# For information (no target): one file differs, so envtwin does the
# per-file pass after the two hashes.
victim=$(find "$work/t2" -type f -size +1k -print -quit)
echo "changed" >>"$victim"
sync
d1_env=$(median_ms "$envtwin" diff "$work/t1" "$work/t2")
d1_diff=$(median_ms diff -r --no-dereference "$work/t1" "$work/t2")
echo
echo "one file changed (information only):"
printf '%-34s %10s ms\n' "envtwin diff T1 T2" "$d1_env" "diff -r --no-dereference T1 T2" "$d1_diff"

# Ten files differ (issue 4): listing and explaining them must stay within
# 2x of hashing both trees. The files to change are added to both trees
# first, so both sides of the ratio are measured on the same trees.
python3 - "$work/t1" "$work/t2" <<'EOF2'
import io, os, sys, tarfile, zipfile
t1, t2 = sys.argv[1], sys.argv[2]

def text(i, host, stamp):
    lines = ["line %d of notes %d: nothing changes here" % (n, i) for n in range(300)]
    lines[150] = "built on %s at %d" % (host, stamp)
    return "\n".join(lines) + "\n"

def bundle(stamp, date):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n in range(40):
            info = zipfile.ZipInfo("pkg/mod%02d.py" % n, date_time=date)
            body = "x = %d\n" % n * 50
            if n == 7:
                body += "BUILD_TIME = %d\n" % stamp
            z.writestr(info, body)
    return buf.getvalue()

def tgz(mode):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
        data = b"#!/bin/sh\necho tool\n"
        info = tarfile.TarInfo("bin/tool")
        info.size, info.mode, info.mtime = len(data), mode, 1700000000
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

for root, host, stamp, date, mode in [
    (t1, "envtwin-a", 1795687009, (2026, 11, 26, 10, 0, 0), 0o644),
    (t2, "envtwin-b-variant", 1795687013, (2026, 11, 26, 10, 0, 4), 0o664),
]:
    os.makedirs(os.path.join(root, "share/notes"), exist_ok=True)
    for i in range(7):
        with open(os.path.join(root, "share/notes/n%d.txt" % i), "w") as f:
            f.write(text(i, host, stamp))
    with open(os.path.join(root, "share/bundle.zip"), "wb") as f:
        f.write(bundle(stamp, date))
    with open(os.path.join(root, "share/tool.tar.gz"), "wb") as f:
        f.write(tgz(mode))
EOF2
# The tenth: the binary file changed above.
sync
find "$work" -type f -exec cat {} + >/dev/null
count=$("$envtwin" diff "$work/t1" "$work/t2" | tail -1 || true)
if [ "$count" != "10 differing paths" ]; then
    echo "bench: expected 10 differing paths, envtwin diff says: $count" >&2
    exit 1
fi
"$envtwin" diff "$work/t1" "$work/t2" --format json >"$work/d10.json" || true
python3 - "$work/d10.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))["differences"]
kinds = sorted(x["detail"]["format"] for x in d)
assert kinds == ["archive"] * 2 + ["binary"] + ["text"] * 7, kinds
zipd = next(x for x in d if x["path"].endswith("bundle.zip"))["detail"]
assert any(m["member"] == "bundle.zip!pkg/mod07.py" for m in zipd["members"]), zipd
EOF2
h1=$(median_ms "$envtwin" hash "$work/t1")
h2=$(median_ms "$envtwin" hash "$work/t2")
d10=$(median_ms "$envtwin" diff "$work/t1" "$work/t2")
both=$(awk -v a="$h1" -v b="$h2" 'BEGIN { printf "%.1f", a + b }')
echo
echo "ten files changed (7 text, 1 binary, 1 zip, 1 tar.gz), each explained:"
printf '%-34s %10s ms\n' "envtwin hash T1 + envtwin hash T2" "$both" \
    "envtwin diff T1 T2 (explained)" "$d10"
echo "ratio envtwin diff (10 differ, explained) / hash of both trees: $(ratio "$d10" "$both") (target <= 2.0)"
