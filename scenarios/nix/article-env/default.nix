# The article's default.nix: a shell with hello and todo on PATH, and `env`,
# a buildEnv of the same packages that `nix-build -A env` realises.
with import <nixpkgs> {};
stdenv.mkDerivation rec {
  name = "env";
  env = buildEnv { name = name; paths = buildInputs; };
  buildInputs = [ hello todo ];
}
