# python3: Debian's own interpreter and standard library, brought into the
# store as nixpkgs brings its bootstrap tools. The host files are copied with
# `builtins.path` and a filter (their store paths depend only on their
# bytes); the builder then sets the interpreter's ELF interpreter to the
# store's copy of ld.so and every RUNPATH to `$out/lib` with patchelf (also
# the host's, relocated the same way), as nixpkgs' unpack-bootstrap-tools
# does. At run time nothing of the host is loaded: no /usr, no /lib, no
# /etc/ld.so.cache lookup.
{ pkgs }:

let
  inherit (pkgs) system;

  hasPrefix = pre: s: builtins.substring 0 (builtins.stringLength pre) s == pre;
  anyPrefix = pres: s: builtins.any (p: hasPrefix p s) pres;

  # The multiarch directory and dynamic loader of this system, Debian's names.
  arch = {
    "x86_64-linux" = { triple = "x86_64-linux-gnu"; ldso = "ld-linux-x86-64.so.2"; };
    "aarch64-linux" = { triple = "aarch64-linux-gnu"; ldso = "ld-linux-aarch64.so.1"; };
  }.${system} or (throw "mini-nixpkgs python3: no bootstrap for ${system}");

  # The host's python3.X: the newest /usr/lib/python3.N holding os.py.
  versions = builtins.filter
    (n: builtins.match "python3\\.[0-9]+" n != null
      && builtins.pathExists (/usr/lib + "/${n}/os.py"))
    (builtins.attrNames (builtins.readDir /usr/lib));
  pythonDir =
    if versions == [ ] then
      throw "mini-nixpkgs python3: no /usr/lib/python3.N on this host; install it with `apt-get install -y python3-venv`"
    else builtins.elemAt versions (builtins.length versions - 1);
  pythonVersion = builtins.substring 6 10 pythonDir;

  # Shared libraries from the host's multiarch directory whose names start
  # with one of `sonames` (a soname and the file its symlink points to).
  hostLibs = name: sonames: builtins.path {
    inherit name;
    path = /usr/lib + "/${arch.triple}";
    filter = path: type: type != "directory" && anyPrefix sonames (baseNameOf path);
  };

  # What the interpreter and its lib-dynload modules link against (ldd).
  pythonSonames = [
    arch.ldso "libc.so.6" "libm.so.6" "libz.so.1" "libexpat.so.1"
    "libbz2.so.1.0" "libcrypt.so.1" "libcrypto.so.3" "libssl.so.3"
    "libdb-5.3.so" "libffi.so.8" "liblzma.so.5" "libsqlite3.so.0"
    "libuuid.so.1" "libncursesw.so.6" "libpanelw.so.6" "libtinfo.so.6"
    "libreadline.so.8" "libnsl.so.2" "libtirpc.so.3" "libgssapi_krb5.so.2"
    "libkrb5.so.3" "libk5crypto.so.3" "libkrb5support.so.0" "libcom_err.so.2"
    "libkeyutils.so.1" "libresolv.so.2"
    # glibc's compatibility stubs, which manylinux wheels link against.
    "libpthread.so.0" "libdl.so.2" "librt.so.1" "libutil.so.1"
  ];

  bootstrap = {
    interpreter = builtins.path {
      name = "bootstrap-${pythonDir}";
      path = /usr/bin;
      filter = path: type: baseNameOf path == pythonDir;
    };
    # The standard library without its compiled caches (recompiled below,
    # reproducibly), the static libpython and test suites, the
    # tkinter/idle GUI, Debian's EXTERNALLY-MANAGED marker, its
    # sitecustomize (a link into /etc; ours replaces it) and the
    # distribution's package directories.
    stdlib = builtins.path {
      name = "bootstrap-${pythonDir}-stdlib";
      path = /usr/lib + "/${pythonDir}";
      filter = path: type:
        let n = baseNameOf path; in
        !(builtins.elem n [
          "__pycache__" "test" "tests" "idlelib" "tkinter" "turtledemo"
          "site-packages" "dist-packages" "EXTERNALLY-MANAGED" "sitecustomize.py"
        ] || hasPrefix "config-" n);
    };
    # pip and setuptools for `python3 -m venv` (Debian's ensurepip takes
    # them from here, not from the standard library).
    wheels = builtins.path {
      name = "bootstrap-python-wheels";
      path = /usr/share/python-wheels;
    };
    libs = hostLibs "bootstrap-${pythonDir}-libs" pythonSonames;
  };

  python3 = pkgs.stdenv.mkDerivation {
    name = "python3-${pythonVersion}";
    inherit pythonVersion;
    inherit (bootstrap) interpreter stdlib wheels libs;
    nativeBuildInputs = [ pkgs.patchelf ];
    inherit (arch) ldso;
    sitecustomize = ./sitecustomize.py;
    hook = ./setup-hook.sh;
    buildCommand = ". ${./builder.sh}";
    passthru = {
      inherit pythonVersion;
      sitePackages = "lib/python${pythonVersion}/site-packages";
      executable = "python${pythonVersion}";
      pkgs = pkgs.python3Packages;
      # python3.withPackages (ps: [ ps.flask ]): python3 and the packages
      # with everything they depend on, in one buildEnv. Its bin/python3
      # imports them (see sitecustomize.py); their scripts run as they are.
      withPackages = f: pkgs.buildEnv {
        name = "python3-${pythonVersion}-env";
        paths = [ python3 ] ++ pkgs.python3Packages.requiredPythonModules (f pkgs.python3Packages);
      };
    };
    meta.description = "Python ${pythonVersion}: the host's interpreter and standard library, relocated into the store";
  };
in
{
  inherit python3;
  patchelf = import ../patchelf { inherit pkgs hostLibs; inherit (arch) ldso; };
}
