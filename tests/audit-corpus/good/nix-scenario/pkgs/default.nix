{ system ? builtins.currentSystem, ... }:
{ hello = derivation { name = "hello"; inherit system; builder = ./hello.sh; }; }
