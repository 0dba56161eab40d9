# mini-nixpkgs stdenv setup, sourced by every mkDerivation builder (busybox
# sh) and by nix-shell (bash) as `$stdenv/setup`. Plain POSIX sh, and it
# calls no tool before PATH is set: under `nix-shell --pure` nothing of the
# host's PATH may count.

# PATH: the inputs' bin directories, in order, then the initial path
# (coreutils, which is busybox). Nothing from the caller's PATH survives.
PATH=
for _stdenv_p in ${nativeBuildInputs-} ${buildInputs-} @initialPath@; do
    case ":$PATH:" in
        *":$_stdenv_p/bin:"*) ;;
        *) if [ -d "$_stdenv_p/bin" ]; then PATH="${PATH:+$PATH:}$_stdenv_p/bin"; fi ;;
    esac
done
unset _stdenv_p
export PATH
SHELL=@shell@
export SHELL

# runHook NAME: run the hook held in the variable NAME, if any.
runHook() {
    eval "_stdenv_hook=\${$1-}"
    if [ -n "$_stdenv_hook" ]; then
        eval "$_stdenv_hook"
    fi
    unset _stdenv_hook
    return 0
}

unpackPhase() {
    runHook preUnpack
    if [ -z "${src-}" ]; then
        runHook postUnpack
        return 0
    fi
    if [ -d "$src" ]; then
        cp -R "$src" ./source
    else
        mkdir source
        tar -xf "$src" -C source
    fi
    chmod -R u+w ./source
    sourceRoot=source
    # A tarball with one top directory: build in it.
    set -- source/*
    if [ $# -eq 1 ] && [ -d "$1" ] && [ ! -d "$src" ]; then
        sourceRoot=$1
    fi
    runHook postUnpack
    cd "$sourceRoot"
}

buildPhase() {
    runHook preBuild
    runHook postBuild
}

installPhase() {
    runHook preInstall
    runHook postInstall
}

fixupPhase() {
    runHook preFixup
    runHook postFixup
}

# genericBuild: `buildCommand` if set, else the phases in `phases` (default:
# unpackPhase buildPhase installPhase fixupPhase). A phase held in a
# variable of the same name runs instead of the default function.
genericBuild() {
    if [ -n "${buildCommand+set}" ]; then
        eval "$buildCommand"
        return
    fi
    for _stdenv_phase in ${phases:-${prePhases-} unpackPhase buildPhase installPhase fixupPhase ${postPhases-}}; do
        eval "_stdenv_body=\${$_stdenv_phase-}"
        if [ -n "$_stdenv_body" ]; then
            eval "$_stdenv_body"
        else
            "$_stdenv_phase"
        fi
    done
    unset _stdenv_phase _stdenv_body
}
