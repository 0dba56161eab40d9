# A deliberately non-reproducible derivation: it stamps the clock and random
# bytes into its output, so two builds in two fresh stores produce the same
# store path with different contents.
with import <nixpkgs> { };
runCommand "stamped" { } ''
  mkdir -p "$out/bin" "$out/share"
  printf '#!%s\necho stamped\n' "${runtimeShell}" > "$out/bin/stamped"
  chmod +x "$out/bin/stamped"
  {
    # busybox's date has no %N; /proc/uptime adds centiseconds.
    echo "built at $(date +%s) (uptime $(cut -d' ' -f1 /proc/uptime))"
    echo "build directory $PWD"
  } > "$out/share/build-info.txt"
  head -c 16 /dev/urandom > "$out/share/random.bin"
  echo "this line is the same in every build" > "$out/share/README"
''
