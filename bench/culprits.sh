#!/usr/bin/env bash
# The culprit search against Debian's `reprotest --auto-build`, side by side
# on the same build script (it leaks the hostname and the umask), measured in
# one run with hyperfine. Prints both mean times and the ratio (target: <= 0.2)
# and both tools' answers.
#
#   bench/culprits.sh          (as root; apt-get install -y reprotest hyperfine)
. "$(dirname "$0")/common.sh" reprotest hyperfine

mkdir -p "$work/src"
cat > "$work/src/build.sh" <<'SH'
#!/bin/sh
mkdir -p "${out:-out}"
hostname > "${out:-out}/host"
umask > "${out:-out}/mask"
echo same > "${out:-out}/same"
SH
cat > "$work/src/leaky.yaml" <<'YAML'
name: leaky
build: sh "$src/build.sh"
YAML
echo "envtwin's answer:   $("$envtwin" run --format json "$work/src/leaky.yaml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["culprits"])')"
echo "reprotest's answer: $(cd "$work/src" && reprotest --auto-build 'sh build.sh' 'out/*' 2>/dev/null | grep -A1 'varying each of the following' | tail -1)"
hyperfine -N -i --warmup 1 --runs 10 --export-json "$work/e.json" "$envtwin run $work/src/leaky.yaml" >/dev/null 2>&1
(cd "$work/src" && hyperfine --warmup 1 --runs 3 -i --export-json "$work/r.json" "reprotest --auto-build 'sh build.sh' 'out/*'" >/dev/null 2>&1)
e=$(mean "$work/e.json"); r=$(mean "$work/r.json")
echo "envtwin run (twin builds + culprit search): ${e} s (mean of 10)"
echo "reprotest --auto-build:                     ${r} s (mean of 3)"
echo "ratio envtwin/reprotest: $(python3 -c "print('%.3f' % ($e/$r))")"
