# Builds busybox from the bootstrap copy of the host's static busybox:
set -f
# bin/busybox and a relative symlink per applet. Run as `busybox sh -e`;
# there is no PATH, so every tool is called through the binary itself.
bb="$bootstrap/busybox"
"$bb" mkdir -p "$out/bin"
"$bb" cp "$bb" "$out/bin/busybox"
"$bb" chmod 555 "$out/bin/busybox"
for applet in $("$out/bin/busybox" --list); do
    if [ "$applet" != busybox ]; then
        "$bb" ln -s busybox "$out/bin/$applet"
    fi
done
