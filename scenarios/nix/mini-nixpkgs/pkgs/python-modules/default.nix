# python3Packages: buildPythonPackage, fetchPypi and the packages Flask needs,
# each a wheel from PyPI pinned by its SHA-256, as nixpkgs pins them.
{ pkgs, python }:

let
  self = {
    inherit python;

    # fetchPypi { pname; version; format ? "wheel"; python ? "py3";
    # abi ? "none"; platform ? "any"; sha256 or hash; path ? null; }: the
    # wheel's file from files.pythonhosted.org. nixpkgs builds the
    # predictable URL packages/PYTHON/P/PNAME/FILE; the mirror reachable
    # here serves only the content-addressed blob path, which `path`
    # (the "7f/9c/34f6..." part of the URL PyPI lists) gives.
    fetchPypi =
      { pname, version, format ? "wheel", python ? "py3", abi ? "none"
      , platform ? "any", sha256 ? "", hash ? "", path ? null }:
      assert format == "wheel";
      let
        file = "${pname}-${version}-${python}-${abi}-${platform}.whl";
        dir = if path != null then path
          else "${python}/${builtins.substring 0 1 pname}/${pname}";
      in
      pkgs.fetchurl {
        url = "https://files.pythonhosted.org/packages/${dir}/${file}";
        inherit sha256 hash;
      };

    # pypa/installer, which buildPythonPackage installs wheels with; it is
    # itself a wheel, imported from the zip file.
    installer = self.fetchPypi {
      pname = "installer"; version = "1.1.0";
      path = "d7/7a/63547a792a12148882205d79e07644091d5b7690f40c2bb9d41452a8bdc2";
      sha256 = "f55f5728ff61d3dd54dbc5a397cf3f7307cb64b180c20b72afbebf01c9e2c8a0";
    };

    # A list of packages with everything they depend on, each once.
    requiredPythonModules = drvs:
      map (x: x.drv) (builtins.genericClosure {
        startSet = map (d: { key = d.outPath; drv = d; }) drvs;
        operator = x: map (d: { key = d.outPath; drv = d; }) (x.drv.dependencies or [ ]);
      });

    # buildPythonPackage { pname; version; src (a wheel); dependencies ? []; }:
    # installs the wheel with pypa/installer into
    # $out/lib/pythonX.Y/site-packages, compiles it (hash-checked .pyc),
    # points its compiled modules' RUNPATH at python3's libraries and
    # records the dependencies in nix-support, so stdenv (nix-shell) and
    # buildEnv bring them along. Its scripts import from the dependencies'
    # site-packages, as nixpkgs' wrapPythonPrograms makes them.
    buildPythonPackage =
      { pname, version, src, dependencies ? [ ], propagatedBuildInputs ? [ ]
      , format ? "wheel", passthru ? { }, meta ? { } }:
      assert format == "wheel";
      let
        deps = dependencies ++ propagatedBuildInputs;
        closure = self.requiredPythonModules deps;
      in
      pkgs.stdenv.mkDerivation {
        name = "python${python.pythonVersion}-${pname}-${version}";
        inherit src meta;
        nativeBuildInputs = [ pkgs.patchelf ];
        installer = self.installer;
        python = python;
        propagated = deps;
        pythonPath = closure;
        buildCommand = ''
          SOURCE_DATE_EPOCH=''${SOURCE_DATE_EPOCH:-315532800} PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
            "$python/bin/python3" ${./install-wheel.py}
          # Compiled modules (a manylinux wheel's) load their libraries from
          # python3's lib, never the host's, as nixpkgs' autoPatchelfHook
          # makes them.
          find "$out" -type f -name '*.so' | sort | while read -r so; do
            patchelf --add-rpath "$python/lib" "$so"
          done
          mkdir -p "$out/nix-support"
          echo $propagated > "$out/nix-support/propagated-build-inputs"
          echo $propagated > "$out/nix-support/propagated-user-env-packages"
        '';
        passthru = passthru // {
          inherit pname version python;
          dependencies = deps;
          pythonModule = python;
        };
      };

    blinker = self.buildPythonPackage rec {
      pname = "blinker"; version = "1.9.0";
      src = self.fetchPypi {
        inherit pname version;
        path = "10/cb/f2ad4230dc2eb1a74edf38f1a38b9b52277f75bef262d8908e60d957e13c";
        sha256 = "ba0efaa9080b619ff2f3459d1d500c57bddea4a6b424b60a91141db6fd2f08bc";
      };
    };

    click = self.buildPythonPackage rec {
      pname = "click"; version = "8.5.1";
      src = self.fetchPypi {
        inherit pname version;
        path = "31/7d/164b7ffc8624fe9efb4221bf9af485d5c1e41b9ae118045d2b6dc5457d8b";
        sha256 = "8bb5376d2006950386f8c6427613334a2acadc5f559cb80e638d00b4df957e37";
      };
    };

    itsdangerous = self.buildPythonPackage rec {
      pname = "itsdangerous"; version = "2.2.0";
      src = self.fetchPypi {
        inherit pname version;
        path = "04/96/92447566d16df59b2a776c0fb82dbc4d9e07cd95062562af01e408583fc4";
        sha256 = "c6242fc49e35958c8b15141343aa660db5fc54d4f13a1db01a3f5891b98700ef";
      };
    };

    # The one compiled wheel: CPython 3.11 on glibc x86_64.
    markupsafe = self.buildPythonPackage rec {
      pname = "markupsafe"; version = "3.0.4";
      src = self.fetchPypi {
        inherit pname version;
        python = "cp311"; abi = "cp311";
        platform = "manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64";
        path = "81/a5/a513b76c139a3915b43404324e55c0b7979ae4f0d39eb6f075b0282e90a8";
        sha256 = "6da83a088f8ef93b2d483a8232a4dbf4d69d3d8496b568a03c56becac43e1808";
      };
    };

    jinja2 = self.buildPythonPackage rec {
      pname = "jinja2"; version = "3.1.6";
      src = self.fetchPypi {
        inherit pname version;
        path = "62/a1/3d680cbfd5f4b8f15abc1d571870c5fc3e594bb582bc3b64ea099db13e56";
        sha256 = "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67";
      };
      dependencies = [ self.markupsafe ];
    };

    werkzeug = self.buildPythonPackage rec {
      pname = "werkzeug"; version = "3.1.9";
      src = self.fetchPypi {
        inherit pname version;
        path = "a1/38/df03f564f43cec2684823f3cccae1a652ee7face1cbaa76fb223096e64d7";
        sha256 = "6392e50c78460ba618e5b21f08a71f59c99ce99cdc6cf6e3dd7e6ccca8754fab";
      };
      dependencies = [ self.markupsafe ];
    };

    flask = self.buildPythonPackage rec {
      pname = "flask"; version = "3.1.3";
      src = self.fetchPypi {
        inherit pname version;
        path = "7f/9c/34f6962f9b9e9c71f6e5ed806e0d0ff03c9d1b0b2340088a0cf4bce09b18";
        sha256 = "f4bcbefc124291925f1a26446da31a5178f9483862233b23c0c96a20701f670c";
      };
      dependencies = with self; [ blinker click itsdangerous jinja2 markupsafe werkzeug ];
      meta.description = "A simple framework for building complex web applications";
    };
  };
in
self
