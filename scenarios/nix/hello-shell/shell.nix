# Exactly the expression `nix-shell -p hello` evaluates (Nix 2.8).
with import <nixpkgs> { }; (pkgs.runCommandCC or pkgs.runCommand) "shell" { buildInputs = [ (hello) ]; } ""
