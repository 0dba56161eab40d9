# mini-nixpkgs: a tiny, offline package set in the shape of nixpkgs.
#
# Everything is bootstrapped from one host file, the static busybox of
# Debian's busybox-static (/usr/bin/busybox): it is copied into the store and
# every builder below runs it, and nothing else, so a build needs no network,
# no substituter and no host tool. python3 is the one other bootstrap: the
# host's interpreter, standard library and shared libraries, copied into the
# store and patched to load only from there (pkgs/python3); Python packages
# are wheels fetched by fixed-output derivations pinned by SHA-256. Builders write no timestamps, randomness or
# readdir-order-dependent listings; Nix canonicalises mtimes and modes.
#
# Used as `<nixpkgs>`: `import <nixpkgs> {}` gives the package set, including
# `pkgs` itself, so the expression `nix-shell -p hello` evaluates works too.
{ system ? builtins.currentSystem, ... }:

let
  # The host's static busybox, alone in a directory in the store. The store
  # path depends only on the binary's bytes, not on where this file lives.
  bootstrapBusybox = builtins.path {
    name = "bootstrap-busybox";
    path = /usr/bin;
    filter = path: type: baseNameOf path == "busybox";
  };

  concatMap = f: list: builtins.concatLists (map f list);

  pkgs = {
    inherit pkgs system;

    # busybox: bin/busybox plus a relative symlink per applet, like
    # nixpkgs' busybox.
    busybox = derivation {
      name = "busybox";
      inherit system;
      # argv[0] is the builder's base name, `busybox`, so the first argument
      # selects the applet.
      builder = "${bootstrapBusybox}/busybox";
      args = [ "sh" "-e" ./pkgs/busybox/builder.sh ];
      bootstrap = bootstrapBusybox;
    };

    # coreutils: every applet of `busybox --list`, as a symlink to the
    # busybox binary. It is stdenv's initial PATH.
    coreutils = derivation {
      name = "coreutils";
      inherit system;
      builder = "${pkgs.busybox}/bin/sh";
      args = [ "-e" ./pkgs/coreutils/builder.sh ];
      PATH = "${pkgs.busybox}/bin";
      busybox = pkgs.busybox;
    };

    # The store path nix-shell sources as `$stdenv/setup`.
    stdenvBase = derivation {
      name = "stdenv-mini";
      inherit system;
      builder = "${pkgs.busybox}/bin/sh";
      args = [ "-e" ./stdenv/builder.sh ];
      PATH = "${pkgs.busybox}/bin";
      setup = ./stdenv/setup.sh;
      initialPath = [ pkgs.coreutils ];
      shell = pkgs.runtimeShell;
    };

    runtimeShell = "${pkgs.busybox}/bin/sh";

    stdenv = pkgs.stdenvBase // {
      inherit (pkgs) system shell mkDerivation;
      isLinux = true;
      cc = null;
    };
    shell = pkgs.runtimeShell;

    # stdenv.mkDerivation: `name` (or `pname` + `version`), `buildInputs`,
    # `nativeBuildInputs`, `buildCommand` or the phases `unpackPhase`
    # (when `src` is set), `buildPhase`, `installPhase`, `fixupPhase` with
    # their pre/post hooks, `phases`; every other attribute is passed to the
    # builder as an environment variable, `passthru` is merged into the
    # result and `meta` kept out of the derivation.
    mkDerivation =
      { passthru ? { }, meta ? { }, ... }@attrs:
      let
        name = attrs.name or "${attrs.pname}-${attrs.version}";
        drv = derivation (
          removeAttrs attrs [ "passthru" "meta" "pname" "version" ]
          // {
            inherit name;
            system = attrs.system or system;
            builder = attrs.builder or pkgs.runtimeShell;
            args = attrs.args or [ "-e" ./stdenv/default-builder.sh ];
            stdenv = pkgs.stdenvBase;
            buildInputs = attrs.buildInputs or [ ];
            nativeBuildInputs = attrs.nativeBuildInputs or [ ];
          }
        );
      in
      drv // passthru // { inherit meta; }
      // (if attrs ? pname then { inherit (attrs) pname; } else { })
      // (if attrs ? version then { inherit (attrs) version; } else { });

    # mkShell, like nixpkgs': `packages` and the inputs of `inputsFrom`
    # join the shell's inputs. Building it writes a note to $out.
    mkShell =
      { name ? "nix-shell"
      , packages ? [ ]
      , inputsFrom ? [ ]
      , buildInputs ? [ ]
      , nativeBuildInputs ? [ ]
      , shellHook ? ""
      , ...
      }@attrs:
      pkgs.stdenv.mkDerivation (
        removeAttrs attrs [ "packages" "inputsFrom" ]
        // {
          inherit name shellHook;
          nativeBuildInputs = packages ++ nativeBuildInputs
            ++ concatMap (d: d.nativeBuildInputs or [ ]) inputsFrom;
          buildInputs = buildInputs
            ++ concatMap (d: d.buildInputs or [ ]) inputsFrom;
          phases = [ "buildPhase" ];
          buildPhase = ''
            echo "This path is the build product of a mkShell, not an environment;" > "$out"
            echo "use it with nix-shell." >> "$out"
          '';
        }
      );

    # runCommand NAME ENV BUILDCOMMAND. runCommandCC is the same here: there
    # is no C compiler in this package set.
    runCommand = name: env: buildCommand:
      pkgs.stdenv.mkDerivation ({
        inherit name buildCommand;
        preferLocalBuild = true;
        allowSubstitutes = false;
      } // env);
    runCommandLocal = pkgs.runCommand;
    runCommandCC = pkgs.runCommand;
    runCommandNoCC = pkgs.runCommand;

    writeTextFile =
      { name, text, executable ? false, destination ? "" }:
      pkgs.runCommand name {
        inherit text destination;
        executable = if executable then "1" else "";
      } ''
        target="$out$destination"
        mkdir -p "''${target%/*}"
        printf '%s' "$text" > "$target"
        if [ -n "$executable" ]; then chmod +x "$target"; fi
      '';
    writeText = name: text: pkgs.writeTextFile { inherit name text; };
    writeScript = name: text:
      pkgs.writeTextFile { inherit name text; executable = true; };
    writeScriptBin = name: text: pkgs.writeTextFile {
      inherit name text;
      executable = true;
      destination = "/bin/${name}";
    };
    writeShellScript = name: text:
      pkgs.writeScript name "#!${pkgs.runtimeShell}\n${text}";
    writeShellScriptBin = name: text:
      pkgs.writeScriptBin name "#!${pkgs.runtimeShell}\n${text}";

    # buildEnv { name; paths; pathsToLink ? ["/"]; ignoreCollisions ? false;
    # postBuild ? ""; }: one tree of real directories whose files are
    # symlinks into the paths, like nixpkgs' buildEnv. A file two paths
    # provide with different contents is an error unless ignoreCollisions,
    # then the earlier path in `paths` wins.
    buildEnv =
      { name
      , paths
      , pathsToLink ? [ "/" ]
      , ignoreCollisions ? false
      , postBuild ? ""
      , passthru ? { }
      , meta ? { }
      , ...
      }@attrs:
      pkgs.runCommand name
        (removeAttrs attrs [ "name" "paths" "pathsToLink" "ignoreCollisions" "postBuild" ] // {
          inherit paths pathsToLink postBuild passthru meta;
          ignoreCollisions = if ignoreCollisions then "1" else "";
        })
        ''. ${./build-support/buildenv.sh}'';
    symlinkJoin = { name, paths, postBuild ? "", ... }@attrs:
      pkgs.buildEnv attrs;

    # Packages.

    hello = pkgs.stdenv.mkDerivation {
      name = "hello";
      src = builtins.path { name = "hello-src"; path = ./pkgs/hello; };
      buildPhase = ''
        runHook preBuild
        { echo "#!${pkgs.runtimeShell}"; cat hello.sh; } > hello
        runHook postBuild
      '';
      installPhase = ''
        runHook preInstall
        mkdir -p "$out/bin"
        cp hello "$out/bin/hello"
        chmod 755 "$out/bin/hello"
        runHook postInstall
      '';
      meta.description = "A program that prints `Hello, world!`";
    };

    todo = pkgs.writeShellScriptBin "todo" (builtins.readFile ./pkgs/todo/todo.sh);

    # fetchurl: a fixed-output derivation checked against its sha256; the
    # only kind of derivation that may reach the network.
    fetchurl = import ./build-support/fetchurl { inherit pkgs; };

    # python3: the host's Python and standard library, relocated into the
    # store (pkgs/python3); python3.withPackages (ps: [ ps.flask ]).
    inherit (import ./pkgs/python3 { inherit pkgs; }) python3 patchelf;
    python3Packages = import ./pkgs/python-modules {
      inherit pkgs;
      python = pkgs.python3;
    };
    inherit (pkgs.python3Packages) fetchPypi;
  };
in
pkgs
