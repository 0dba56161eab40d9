# Fetchers without a hash or rev. A lookup path in a comment is not
# flagged: import <nixpkgs> {}.
let
  nixpkgs = builtins.fetchTarball "https://github.com/NixOS/nixpkgs/archive/nixos-24.05.tar.gz";
  overlay = fetchTarball { url = "https://example.org/overlay.tar.gz"; };
  src = pkgs.fetchurl { url = "https://example.org/src-1.0.tar.gz"; };
  zip = pkgs.fetchzip { url = https://example.org/z.zip; meta.sha256 = "not a hash of the fetch"; };
  repo = builtins.fetchGit { url = "https://github.com/o/r.git"; ref = "main"; };
  bare = builtins.fetchGit "https://github.com/o/r.git";
  tree = builtins.fetchTree { type = "github"; owner = "o"; repo = "r"; };
  lib = import <nixpkgs/lib>;
  pkgs = import nixpkgs { };
in
pkgs.hello // { small = 1 < 2; note = "fetchTarball \"in a string\" is text"; }
