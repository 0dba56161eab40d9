# Pinned Nix: nixpkgs and every source by hash or full commit.
# import <nixpkgs> {} here would not be pinned, but this is a comment.
/* builtins.fetchTarball "https://example.org" in a block comment */
let
  nixpkgs = builtins.fetchTarball {
    url = "https://github.com/NixOS/nixpkgs/archive/0123456789abcdef0123456789abcdef01234567.tar.gz";
    sha256 = "0000000000000000000000000000000000000000000000000000";
  };
  pkgs = import nixpkgs { system = builtins.currentSystem; overlays = [ ]; };
  src = pkgs.fetchurl {
    url = "https://example.org/src-1.0.tar.gz";
    hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  };
  zip = pkgs.fetchzip rec { url = "https://example.org/z.zip"; inherit (src) hash; };
  repo = builtins.fetchGit { url = "https://github.com/o/r.git"; rev = "0123456789abcdef0123456789abcdef01234567"; };
  tree = builtins.fetchTree { type = "github"; owner = "o"; repo = "r"; narHash = "sha256-AAAA"; };
  note = "import <nixpkgs> {} in a string is text, and so is builtins.getEnv";
  doc = ''
    fetchTarball "https://example.org" in an indented string is text, ''${not code}
  '';
  vendored = import ./vendored { };
  fetchurl = { url, sha256 }: url;
in
pkgs.mkShell {
  packages = [ pkgs.hello ];
  shellHook = if 1 < 2 then "" else "${toString (1 > 0)}";
}
