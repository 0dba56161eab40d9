#!/usr/bin/env bash
# The cost of the `time` variation's file-time shim (src/timeshift.rs): a
# stat-heavy workload (Python stat-ing every file under /usr/lib/python3,
# `ls -lR /usr/share`) run plainly, under libfaketime alone (as build B ran
# before the shim) and under the shim plus libfaketime (as build B runs
# now), measured in one run with hyperfine. Prints the means and the ratios.
#
#   bench/timeshift.sh         (apt-get install -y faketime hyperfine)
. "$(dirname "$0")/common.sh" hyperfine python3
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -e "$libfaketime" ] || { echo "bench: libfaketime is required (apt-get install -y faketime)" >&2; exit 2; }
shim=$(find "$here/target/release/build" -name timeshift.so -newer "$here/shim/timeshift.c" | head -1)
[ -n "$shim" ] || shim=$(find "$here/target/release/build" -name timeshift.so | head -1)
cat > "$work/load.sh" <<'SH'
python3 -c 'import os
n = 0
for root, dirs, files in os.walk("/usr/lib/python3"):
    for f in files:
        os.stat(os.path.join(root, f)); n += 1
'
ls -lR /usr/share > /dev/null 2>&1 || true
SH
ft="FAKETIME=+400d FAKETIME_DONT_FAKE_MONOTONIC=1"
since=$(date +%s)
hyperfine -N --warmup 1 --runs 10 --export-json "$work/plain.json" "sh $work/load.sh" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs 10 --export-json "$work/ft.json" \
    "env LD_PRELOAD=$libfaketime $ft sh $work/load.sh" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs 10 --export-json "$work/shim.json" \
    "env LD_PRELOAD=$shim:$libfaketime $ft NO_FAKE_STAT=1 ENVTWIN_STAT_SHIFT=34560000 ENVTWIN_STAT_SINCE=$since sh $work/load.sh" >/dev/null 2>&1
p=$(mean "$work/plain.json"); f=$(mean "$work/ft.json"); s=$(mean "$work/shim.json")
echo "plain:                 ${p} s (mean of 10)"
echo "libfaketime alone:     ${f} s"
echo "shim + libfaketime:    ${s} s"
echo "ratio shim+libfaketime / libfaketime alone: $(python3 -c "print('%.3f' % ($s/$f))")"
echo "ratio shim+libfaketime / plain:             $(python3 -c "print('%.3f' % ($s/$p))")"
