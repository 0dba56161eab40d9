# coreutils: every applet of `busybox --list` as a symlink to busybox.
set -f
mkdir -p "$out/bin"
for applet in $("$busybox/bin/busybox" --list); do
    ln -s "$busybox/bin/busybox" "$out/bin/$applet"
done
