# Builds the stdenv store path: `setup`, with the initial PATH filled in.
mkdir -p "$out"
sed -e "s|@initialPath@|$initialPath|g" -e "s|@shell@|$shell|g" \
    "$setup" > "$out/setup"
