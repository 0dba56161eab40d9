# patchelf: the host's (Debian's patchelf), brought into the store as
# nixpkgs' bootstrap tools are: its binary and the shared libraries it needs
# copied with `builtins.path`, then the binary patched by itself, run
# through its copied loader, to load only those copies.
{ pkgs, hostLibs, ldso }:

let
  bin = builtins.path {
    name = "bootstrap-patchelf";
    path = /usr/bin;
    filter = path: type: baseNameOf path == "patchelf";
  };
  libs = hostLibs "bootstrap-patchelf-libs" [
    ldso "libc.so.6" "libm.so.6" "libstdc++.so.6" "libgcc_s.so.1"
  ];
in
pkgs.stdenv.mkDerivation {
  name = "patchelf";
  inherit bin libs ldso;
  buildCommand = ''
    if [ ! -x "$bin/patchelf" ]; then
      echo "patchelf is not installed on the host: apt-get install -y patchelf" >&2
      exit 1
    fi
    mkdir -p "$out/bin" "$out/lib"
    cp -d "$libs"/* "$out/lib/"
    # Patch a copy: the running patchelf must not rewrite its own file.
    cp "$bin/patchelf" patchelf
    chmod u+w patchelf
    "$libs/$ldso" --library-path "$libs" "$bin/patchelf" \
      --set-interpreter "$out/lib/$ldso" --set-rpath "$out/lib" patchelf
    cp patchelf "$out/bin/patchelf"
    "$out/bin/patchelf" --version > /dev/null
  '';
  meta.description = "The host's patchelf, relocated into the store";
}
