{ src }: derivation { name = "tool"; builder = "/bin/sh"; system = builtins.currentSystem; inherit src; home = builtins.getEnv "HOME"; }
