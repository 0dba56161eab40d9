# mini-nixpkgs stdenv setup, sourced by every mkDerivation builder (busybox
# sh) and by nix-shell (bash) as `$stdenv/setup`. Plain POSIX sh, and it
# calls no tool before PATH is set: under `nix-shell --pure` nothing of the
# host's PATH may count.

# The inputs: nativeBuildInputs, then buildInputs, each followed by what it
# propagates ($p/nix-support/propagated-build-inputs), each once.
_stdenv_inputs=
_stdenv_find() {
    local _stdenv_q _stdenv_line
    case " $_stdenv_inputs " in *" $1 "*) return 0 ;; esac
    _stdenv_inputs="$_stdenv_inputs $1"
    if [ -f "$1/nix-support/propagated-build-inputs" ]; then
        read -r _stdenv_line < "$1/nix-support/propagated-build-inputs" || true
        for _stdenv_q in $_stdenv_line; do _stdenv_find "$_stdenv_q"; done
    fi
}
for _stdenv_p in ${nativeBuildInputs-} ${buildInputs-}; do _stdenv_find "$_stdenv_p"; done

# PATH: the inputs' bin directories, in order, then the initial path
# (coreutils, which is busybox). Nothing from the caller's PATH survives.
PATH=
for _stdenv_p in $_stdenv_inputs @initialPath@; do
    case ":$PATH:" in
        *":$_stdenv_p/bin:"*) ;;
        *) if [ -d "$_stdenv_p/bin" ]; then PATH="${PATH:+$PATH:}$_stdenv_p/bin"; fi ;;
    esac
done
export PATH

# Setup hooks, as in nixpkgs: each input's nix-support/setup-hook is
# sourced, then every hook it added to envHooks runs once per input (python3
# adds each input's site-packages to PYTHONPATH this way).
for _stdenv_p in $_stdenv_inputs; do
    if [ -f "$_stdenv_p/nix-support/setup-hook" ]; then
        . "$_stdenv_p/nix-support/setup-hook"
    fi
done
for _stdenv_h in ${envHooks-}; do
    for _stdenv_p in $_stdenv_inputs; do "$_stdenv_h" "$_stdenv_p"; done
done
unset _stdenv_p _stdenv_h
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
