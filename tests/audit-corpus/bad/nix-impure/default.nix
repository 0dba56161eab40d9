# Impure builtins. builtins.currentSystem is not flagged: the platform is a
# parameter of the build, not an input that drifts.
{ system ? builtins.currentSystem }:
let
  home = builtins.getEnv "HOME";
  now = builtins.currentTime;
  tool = builtins.storePath /nix/store/00000000000000000000000000000000-tool;
  inherit (builtins) getEnv;
  user = __getEnv "USER";
  paths = builtins.nixPath;
in
{ inherit home now tool user paths system; s = "builtins.getEnv in a string is text"; }
