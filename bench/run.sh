#!/usr/bin/env bash
# Wall time of `envtwin run` (release build) measured against baselines in
# the same run, with hyperfine (apt-get install -y hyperfine):
#
#   1. one trivial scenario (two sandboxed builds + probes + hashes);
#   2. each shipped nix scenario (two builds in parallel, each in a fresh
#      private store) vs running its nix-build / nix-shell twice in a row by
#      hand, each time in a fresh empty store (unshare + tmpfs on /nix).
#
#   bench/run.sh            (as root: namespaces)
. "$(dirname "$0")/common.sh" hyperfine nix-build unshare

trivial_scenario "$work/trivial.yaml"
hyperfine -N --warmup 2 --runs 20 --export-json "$work/t.json" "$envtwin run $work/trivial.yaml" >/dev/null
echo "trivial scenario, envtwin run: $(mean "$work/t.json") s (mean of 20)"

nixconf='substituters =
build-users-group =
sandbox = false'
# scenario file | nix command run twice by hand (in $here/scenarios/nix)
cases=(
  "hello-shell.yaml|nix-shell --pure hello-shell/shell.nix --run true"
  "article-env.yaml|nix-shell --pure article-env/default.nix --run true"
  "article-env-build.yaml|nix-build article-env/default.nix -A env --no-out-link"
  "stamped.yaml|nix-build stamped/default.nix --no-out-link"
)
mkdir -p "$work/shell" && ln -s "$(readlink -f /bin/bash)" "$work/shell/bash"
cat > "$work/by-hand.sh" <<SH
#!/bin/sh
# One build in a fresh, private, empty store, as envtwin gives each build.
cd "$here/scenarios/nix"
exec unshare -m -n sh -c 'mount -t tmpfs tmpfs /nix && "\$@" >/dev/null 2>&1' sh "\$@"
SH
chmod +x "$work/by-hand.sh"
printf '%-24s %10s %14s %7s\n' scenario envtwin "2x by hand" ratio
for c in "${cases[@]}"; do
    file=${c%%|*}; cmd=${c#*|}
    NIX_CONFIG="$nixconf" NIX_PATH="nixpkgs=$here/scenarios/nix/mini-nixpkgs" NIX_BUILD_SHELL="$work/shell/bash" \
        hyperfine -N --warmup 1 --runs 5 \
        --export-json "$work/e.json" "$envtwin run --no-explain $here/scenarios/nix/$file" \
        >/dev/null
    NIX_CONFIG="$nixconf" NIX_PATH="nixpkgs=$here/scenarios/nix/mini-nixpkgs" NIX_BUILD_SHELL="$work/shell/bash" \
        hyperfine --warmup 1 --runs 5 \
        --export-json "$work/h.json" "$work/by-hand.sh $cmd && $work/by-hand.sh $cmd" >/dev/null
    e=$(mean "$work/e.json"); h=$(mean "$work/h.json")
    printf '%-24s %9ss %13ss %7.2f\n' "$file" "$e" "$h" "$(python3 -c "print($e/$h)")"
done
echo "(envtwin also runs the probes and hashes both stores, the by-hand runs do neither; --no-explain: the culprit search of a differing build is extra work, measured by bench/culprits.sh)"
