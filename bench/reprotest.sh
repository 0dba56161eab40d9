#!/usr/bin/env bash
# envtwin against reprotest on the real-world recipes (README, "On real
# registries"): each case is run once by `envtwin run` (its scenario under
# scenarios/real-world) and once by reprotest, null virtual server, default
# variations (cargo: all but time), on the same recipe as a build.sh with
# `out/` for $out. Prints each tool's verdict and wall time, and envtwin's
# culprits. Needs the registries (PyPI, npm, crates.io) and root.
#
#   bench/reprotest.sh [flask-sde flask-nosde wheel npm cargo]
#   (apt-get install -y reprotest; it brings diffoscope)
. "$(dirname "$0")/common.sh" reprotest jq python3 npm
[ "$(id -u)" = 0 ] || { echo "bench: reprotest's null server needs root" >&2; exit 2; }
real="$here/scenarios/real-world"
pip_env='export PYTHONNOUSERSITE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null PIP_ROOT_USER_ACTION=ignore'
# The venv is made at one fixed path and copied, as envtwin's $out is fixed.
venv='v=/tmp/envtwin-bench-venv; rm -rf $v out
/usr/bin/python3 -m venv $v
$v/bin/pip install -q --require-hashes --only-binary=:all: --no-deps -r requirements.txt
mkdir out; cp -a $v out/venv; rm -rf $v'

case_dir() { mkdir -p "$work/$1"; echo "$work/$1"; }
d=$(case_dir flask-sde); cp "$real/flask-venv-no-sde/requirements.txt" "$d/"
printf 'set -e\nexport SOURCE_DATE_EPOCH=315532800\n%s\n%s\n' "$pip_env" "$venv" > "$d/build.sh"
sed -e '/^source_date_epoch: null/d' -e 's/^name: real-flask-venv-no-sde/name: real-flask-venv-sde/' \
    -e 's/^  reproducible: false/  reproducible: true/' "$real/flask-venv-no-sde/flask-venv-no-sde.yaml" > "$d/scenario.yaml"
d=$(case_dir flask-nosde); cp "$real/flask-venv-no-sde/requirements.txt" "$d/"
printf 'set -e\n%s\n%s\n' "$pip_env" "$venv" > "$d/build.sh"
d=$(case_dir wheel); cp -r "$real/wheel-no-sde/requirements.txt" "$real/wheel-no-sde/pkg" "$d/"
cat > "$d/build.sh" <<EOF
set -e
$pip_env PYTHONDONTWRITEBYTECODE=1
work=\$(mktemp -d); rm -rf out; mkdir out
cp -r pkg "\$work/pkg"
/usr/bin/python3 -m venv "\$work/venv"
"\$work/venv/bin/pip" install -q --require-hashes --only-binary=:all: --no-deps -r requirements.txt
"\$work/venv/bin/pip" wheel -q --no-build-isolation --no-deps -w out "\$work/pkg"
rm -rf "\$work"
EOF
d=$(case_dir npm); cp "$real/npm-ci/package.json" "$real/npm-ci/package-lock.json" "$d/"
cat > "$d/build.sh" <<'EOF'
set -e
export npm_config_cache="$(mktemp -d)" npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
rm -rf out; mkdir out; cp package.json package-lock.json out/; cd out; npm ci --no-progress --silent
EOF
d=$(case_dir cargo); cp -r "$real/cargo-locked/crate" "$d/"
cat > "$d/build.sh" <<'EOF'
set -e
toolchain=/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
export PATH="$toolchain/bin:$PATH" CARGO_HOME="$(mktemp -d)"
work=$(mktemp -d); rm -rf out; mkdir -p out/bin
cargo build --locked --release --quiet --manifest-path crate/Cargo.toml --target-dir "$work/target"
cp "$work/target/release/envtwin-cargo-example" out/bin/
EOF

scenario_of() {
    case $1 in
    flask-sde) echo "$work/flask-sde/scenario.yaml" ;;
    flask-nosde) echo "$real/flask-venv-no-sde" ;;
    wheel) echo "$real/wheel-no-sde" ;;
    npm) echo "$real/npm-ci" ;;
    cargo) echo "$real/cargo-locked" ;;
    esac
}
now() { date +%s.%N; }
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(flask-sde flask-nosde wheel npm cargo)
for c in "${cases[@]}"; do
    s=$(now)
    # Exit 1 is a verdict (not reproducible); 2 and 3 are envtwin's errors.
    rc=0
    "$envtwin" run --format json "$(scenario_of "$c")" > "$work/$c.json" 2> "$work/$c.err" || rc=$?
    e=$(now)
    [ "$rc" -le 1 ] || { echo "bench: envtwin exited $rc on $c:" >&2; cat "$work/$c.err" >&2; exit 2; }
    verdict=$(jq -r '.scenarios[0] | if .verdict == "skipped" then "skipped: " + .reason
        else (if .reproducible then "reproducible" else "not reproducible" end
        + (if .reproducible_with_sde then ", reproducible only with SOURCE_DATE_EPOCH" else "" end)
        + "; culprits: " + ((.culprits // []) | join(", "))) end' "$work/$c.json")
    printf '%-12s envtwin    %6.1f s  %s\n' "$c" "$(echo "$e - $s" | bc)" "$verdict"
    vary=""
    [ "$c" = cargo ] && vary=--vary=-time
    s=$(now)
    if (cd "$work/$c" && reprotest $vary --diffoscope-arg=--exclude-directory-metadata=yes 'sh build.sh' out -- null > "$work/$c.reprotest.log" 2>&1); then
        r=reproducible
    else
        r="not reproducible"
    fi
    e=$(now)
    printf '%-12s reprotest  %6.1f s  %s\n' "$c" "$(echo "$e - $s" | bc)" "$r"
done
