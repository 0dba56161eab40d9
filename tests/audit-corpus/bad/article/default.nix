# The article's default.nix: `<nixpkgs>` comes from NIX_PATH, so two
# machines (or one machine a month apart) build different environments.
with import <nixpkgs> {};
stdenv.mkDerivation rec {
  name = "env";
  env = buildEnv { name = name; paths = buildInputs; };
  buildInputs = [ hello todo ];
}
