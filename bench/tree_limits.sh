#!/usr/bin/env bash
# Issue 10: envtwin hash and diff against `nix hash path` and `diff -r`, on
# every tree shape, in one run, with max RSS:
#
#   a: 20,000 files / ~230 MB, like a software environment (bench/hash_diff.sh's tree)
#   b: 200,000 files of 1 KiB (200 directories of 1,000)
#   c: 4 big files of 300-400 MB
#   d: 1,000,000 empty files (1,000 directories of 1,000)
#
#   bench/tree_limits.sh [RUNS]         (default 5 timed runs, interleaved, medians)
#   OLD=/path/to/old/envtwin bench/tree_limits.sh
#
# With OLD set, that binary is timed in the same runs, for a before/after
# table. Trees are made one shape at a time under $TMPDIR (default
# /dev/shm, so the page cache is warm and no disk is written) and removed
# before the next. Each ratio is envtwin's median over the baseline's
# median measured in the same interleaved runs; targets in brackets.
RUNS=${1:-5}
export TMPDIR=${TMPDIR:-/dev/shm}
. "$(dirname "$0")/common.sh" nix python3 diff
measure="$here/bench/measure.py"
old=${OLD:-}
export NIX_REMOTE= NIX_STATE_DIR="$work/nix-state" NIX_CONF_DIR="$work/nix-conf"
nixh="nix --extra-experimental-features nix-command hash path"
results="$work/results.jsonl"

# gen SHAPE DIR: write tree SHAPE at DIR (seeded: the same tree every run).
gen() {
    python3 - "$1" "$2" <<'EOF'
import os, random, sys
shape, root = sys.argv[1], sys.argv[2]
rng = random.Random(42)
os.makedirs(root)
if shape == "a":
    nfiles, mb = 20000, 230
    sizes = []
    for _ in range(nfiles):
        r = rng.random()
        sizes.append(rng.randint(0, 4096) if r < 0.70 else
                     rng.randint(4096, 65536) if r < 0.97 else rng.randint(65536, 4 << 20))
    scale = mb * 1_000_000 / sum(sizes)
    sizes = [int(s * scale) for s in sizes]
    dirs = [""]
    while len(dirs) < nfiles // 50:
        parent = rng.choice(dirs)
        if parent.count("/") < 4:
            dirs.append(os.path.join(parent, "d%d" % len(dirs)))
    for d in dirs:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    blob = rng.randbytes(8 << 20)
    paths = []
    for i, size in enumerate(sizes):
        p = os.path.join(root, rng.choice(dirs), "f%05d" % i)
        start = rng.randrange(0, len(blob) - min(size, len(blob)) + 1)
        with open(p, "wb") as f:
            left = size
            while left > 0:
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
elif shape == "b":
    blob = rng.randbytes(1 << 20)
    for d in range(200):
        sub = os.path.join(root, "p%02d" % (d // 10), "d%03d" % d)
        os.makedirs(sub)
        for i in range(1000):
            at = rng.randrange(0, len(blob) - 1024)
            with open(os.path.join(sub, "f%04d" % i), "wb") as f:
                f.write(blob[at:at + 1024])
elif shape == "c":
    blob = rng.randbytes(16 << 20)
    for i, mb in enumerate([300, 333, 366, 400]):
        with open(os.path.join(root, "big%d" % i), "wb") as f:
            left, k = mb * 1_000_000, i
            while left > 0:
                piece = blob[k % 64:k % 64 + min(left, len(blob) - 64)]
                f.write(piece)
                left -= len(piece)
                k += 1
elif shape == "d":
    for d in range(1000):
        sub = os.path.join(root, "d%03d" % d)
        os.makedirs(sub)
        for i in range(1000):
            open(os.path.join(sub, "e%03d" % i), "wb").close()
EOF
}

# run LABEL CMD...: time envtwin (new, and old if set) against a baseline.
# Arguments: row label, baseline command, envtwin subcommand and paths.
row() {
    local label=$1 base=$2 sub=$3
    shift 3
    local args=("new=$envtwin $sub $*" "base=$base")
    [ -n "$old" ] && args+=("old=$old $sub $*")
    local json
    json=$(python3 "$measure" "$RUNS" "${args[@]}")
    echo "{\"row\": \"$label\", \"m\": $json}" >>"$results"
    python3 - "$label" "$json" <<'EOF'
import json, sys
label, m = sys.argv[1], json.loads(sys.argv[2])
new, base = m["new"], m["base"]
line = "%-38s envtwin %8.1f ms  baseline %8.1f ms  ratio %5.2f" % (
    label, new["ms"], base["ms"], new["ms"] / base["ms"])
if "old" in m:
    line += "  (before: %5.2f)" % (m["old"]["ms"] / base["ms"])
line += "  max RSS %.1f MiB" % new["rss_mib"]
if "old" in m:
    line += " (before %.1f)" % m["old"]["rss_mib"]
print(line, flush=True)
EOF
}

check_same_hash() {
    local ours theirs
    ours=$("$envtwin" hash "$1")
    theirs=$($nixh "$1")
    [ "$ours" = "$theirs" ] || { echo "bench: hash mismatch on $1: envtwin $ours, nix $theirs" >&2; exit 1; }
}

# The SHA-256 floor on c: one stream over all of c's NAR bytes at the
# speed of one core's SHA-256, measured now (OpenSSL, SHA-NI when there).
sha_floor_ms() {
    python3 - "$1" <<'EOF'
import hashlib, sys, time
size = int(sys.argv[1])
buf = bytes(256 << 20)
best = min((lambda t: (hashlib.sha256(buf).digest(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
print("%.1f" % (size / (len(buf) / best) * 1000))
EOF
}

for shape in a b c d; do
    t1="$work/$shape" t2="$work/$shape-copy"
    echo "== tree $shape: generating"
    gen "$shape" "$t1"
    cp -a "$t1" "$t2"
    sync
    echo "$(find "$t1" -type f | wc -l) files, $(du -sb "$t1" | cut -f1) bytes on disk"
    check_same_hash "$t1"
    "$envtwin" diff "$t1" "$t2" >/dev/null || { echo "bench: envtwin diff finds differences in a copy" >&2; exit 1; }
    row "hash $shape / nix hash path" "$nixh $t1" hash "$t1"
    row "diff $shape (identical) / diff -r" "diff -r --no-dereference $t1 $t2" diff "$t1" "$t2"
    if [ "$shape" = a ]; then
        # Ten files differ: a binary, 7 text, a zip, a tar.gz (as hash_diff.sh).
        victim=$(cd "$t2" && find . -type f -size +1k -print -quit)
        echo "changed" >>"$t2/$victim"
        python3 - "$t1" "$t2" <<'EOF'
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
            body = "x = %d\n" % n * 50 + ("BUILD_TIME = %d\n" % stamp if n == 7 else "")
            z.writestr(zipfile.ZipInfo("pkg/mod%02d.py" % n, date_time=date), body)
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
EOF
        count=$("$envtwin" diff "$t1" "$t2" | tail -1 || true)
        [ "$count" = "10 differing paths" ] || { echo "bench: expected 10 differing paths, got: $count" >&2; exit 1; }
        row "diff a, 10 files differ / diff -r" "diff -r --no-dereference $t1 $t2" diff "$t1" "$t2"
    fi
    if [ "$shape" = c ]; then
        floor=$(sha_floor_ms "$(du -sb --apparent-size "$t1" | cut -f1)")
        echo "SHA-256 floor on c (one stream, measured now): $floor ms"
        echo "{\"row\": \"sha floor c\", \"ms\": $floor}" >>"$results"
        # One byte in the middle of the 400 MB file.
        python3 - "$t2/big3" <<'EOF'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(200_000_000)
    b = f.read(1)
    f.seek(200_000_000)
    f.write(bytes([b[0] ^ 1]))
EOF
        row "diff c, 1 byte in 400 MB / diff -r" "diff -r --no-dereference $t1 $t2" diff "$t1" "$t2"
    fi
    rm -rf "$t1" "$t2"
done
echo "results: $results"
cp "$results" "${RESULTS:-/dev/null}" 2>/dev/null || true
