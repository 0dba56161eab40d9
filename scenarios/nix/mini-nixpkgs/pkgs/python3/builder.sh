# Builds python3 from the bootstrap copies (see default.nix).
py=python$pythonVersion
mkdir -p "$out/bin" "$out/lib" "$out/share" "$out/nix-support"

cp "$interpreter/$py" "$out/bin/$py"
ln -s "$py" "$out/bin/python3"
ln -s python3 "$out/bin/python"
cp -R "$stdlib" "$out/lib/$py"
# Sonames stay symlinks to their files, as on the host.
cp -d "$libs"/* "$out/lib/"
cp -R "$wheels" "$out/share/python-wheels"
chmod -R u+w "$out"

# Debian's ensurepip looks for pip and setuptools in WHEEL_PKG_DIR.
for f in "$out/lib/$py"/_sysconfigdata_*.py; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then
        sed -i "s|'/usr/share/python-wheels/'|'$out/share/python-wheels/'|" "$f"
    fi
done
cp "$sitecustomize" "$out/lib/$py/sitecustomize.py"
sed "s|@pythonVersion@|$pythonVersion|g" "$hook" > "$out/nix-support/setup-hook"

patchelf --set-interpreter "$out/lib/$ldso" --set-rpath "$out/lib" "$out/bin/$py"
for f in "$out/lib/$py"/lib-dynload/*.so "$out/lib"/*.so*; do
    if [ -L "$f" ]; then continue; fi
    case "${f##*/}" in "$ldso" | libc.so.6) continue ;; esac
    patchelf --set-rpath "$out/lib" "$f"
done

# The relocated interpreter runs, from the store alone (and writes no .pyc
# yet: those come below, reproducibly).
PYTHONDONTWRITEBYTECODE=1 "$out/bin/python3" -c 'import sys, ssl, sqlite3, ctypes; assert sys.prefix == sys.argv[1], sys.prefix' "$out"

# Compile the standard library. SOURCE_DATE_EPOCH makes the .pyc files
# hash-checked rather than stamped with the source's mtime; -j1 keeps the
# order fixed. PYTHONDONTWRITEBYTECODE: the modules compileall itself
# imports would otherwise be cached first, stamped with the build's clock.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800} PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
    "$out/bin/python3" -m compileall -q -j1 "$out/lib/$py" > compile.log 2>&1 || {
    cat compile.log >&2
    exit 1
}
