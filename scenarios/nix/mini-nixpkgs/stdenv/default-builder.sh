# The builder of stdenv.mkDerivation: source setup, run the build.
. "$stdenv/setup"
genericBuild
# Lenient where nixpkgs is strict: a derivation that installs nothing (a
# shell-only expression, say) gets an empty $out, so every expression of
# this package set can also be nix-built.
if [ ! -e "$out" ] && [ ! -L "$out" ]; then
    mkdir -p "$out"
fi
