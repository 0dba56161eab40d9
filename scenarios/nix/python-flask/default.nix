# The article's default.nix with the article's own packages, Python 3 and
# Flask: a shell with python3 and flask on PATH, and `env`, a buildEnv of
# the same packages that `nix-build -A env` realises. mini-nixpkgs is
# imported by its path in this repository rather than as <nixpkgs>, which is
# the pinned form `envtwin audit` asks for.
with import ../mini-nixpkgs { };
stdenv.mkDerivation rec {
  name = "env";
  env = buildEnv { name = name; paths = buildInputs; };
  buildInputs = [ python3 python3Packages.flask ];
}
