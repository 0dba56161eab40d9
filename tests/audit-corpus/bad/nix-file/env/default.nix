let
  src = builtins.fetchTarball "https://example.org/src.tar.gz";
in
import <tool> { inherit src; }
