#!/usr/bin/env bash
# Start-up cost of the sandbox: `envtwin run` of a trivial scenario (two
# sandboxed builds, probes, hashes), as root and as an ordinary user,
# against a baseline measured in the same run: the same recipe run twice
# by hand in bare namespaces (`unshare -m -n -p -f`, no user namespace, no
# locked mounts, no probes, no hashing). With ENVTWIN_BASELINE=path/to/an
# older envtwin, that binary is measured too (e.g. the v1 sandbox).
#
#   bench/sandbox.sh [USER]     (as root; USER defaults to nobody)
. "$(dirname "$0")/common.sh" hyperfine unshare runuser
user=${1:-nobody}
trivial_scenario "$work/trivial.yaml"
chmod 755 "$work"; chmod 644 "$work/trivial.yaml"
recipe='out=$(mktemp -d) && mkdir -p "$out/bin" && printf "#!/bin/sh\necho hi\n" > "$out/bin/hi" && chmod +x "$out/bin/hi" && command -v "$out/bin/hi" >/dev/null && rm -rf "$out"'
by_hand="unshare -m -n -p -f sh -c '$recipe' && unshare -m -n -p -f sh -c '$recipe'"
run() { # command: its mean time, or the script stops with hyperfine's error
    hyperfine -N --warmup 2 --runs 20 --export-json "$work/r.json" "$1" >/dev/null &&
        mean "$work/r.json"
}
base=$(hyperfine --warmup 2 --runs 20 --export-json "$work/b.json" "$by_hand" >/dev/null && mean "$work/b.json")
# The user's copy must be readable by it: a world-readable binary.
cp "$envtwin" "$work/envtwin"; chmod 755 "$work/envtwin"
root=$(run "$work/envtwin run --workdir $work $work/trivial.yaml")
mkdir -p "$work/u"; chown "$user" "$work/u"
usr=$(run "runuser -u $user -- $work/envtwin run --workdir $work/u $work/trivial.yaml")
ratio() { python3 -c "print('%.2f' % ($1/$2))"; }
printf '%-42s %8s %7s\n' "" "mean" "ratio"
printf '%-42s %7ss %7s\n' "2x by hand in bare namespaces (baseline)" "$base" "1.00"
printf '%-42s %7ss %7s\n' "envtwin run, as root" "$root" "$(ratio "$root" "$base")"
printf '%-42s %7ss %7s\n' "envtwin run, as $user" "$usr" "$(ratio "$usr" "$base")"
if [ -n "${ENVTWIN_BASELINE:-}" ]; then
    old=$(run "$ENVTWIN_BASELINE run --workdir $work $work/trivial.yaml")
    printf '%-42s %7ss %7s\n' "ENVTWIN_BASELINE run, as root" "$old" "$(ratio "$old" "$base")"
fi
echo "(envtwin also runs the probes and NAR-hashes both trees; runuser adds its own start-up to the user's figure)"
