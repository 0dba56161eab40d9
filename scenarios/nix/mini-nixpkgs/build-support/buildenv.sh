# buildEnv: merge `paths` into $out. Directories become real directories,
# everything else a symlink to the file in its store path. Walks in glob
# (sorted) order, so the result does not depend on readdir order.

# _buildenv_link SOURCE-DIR TARGET-DIR
_buildenv_link() {
    mkdir -p "$2"
    for _e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        if [ ! -e "$_e" ] && [ ! -L "$_e" ]; then continue; fi
        _t="$2/${_e##*/}"
        # A package's own nix-support (setup hook, propagated inputs) is
        # its own business, not the environment's.
        if [ "$_t" = "$out/nix-support" ]; then continue; fi
        if [ -d "$_e" ]; then
            if [ -L "$_t" ] || { [ -e "$_t" ] && [ ! -d "$_t" ]; }; then
                echo "buildEnv: collision: $_e is a directory, $_t is not" >&2
                exit 1
            fi
            # Recurse in a subshell so the loop variables survive.
            ( _buildenv_link "$_e" "$_t" )
        elif [ -e "$_t" ] || [ -L "$_t" ]; then
            if [ -d "$_t" ] && [ ! -L "$_t" ]; then
                echo "buildEnv: collision: $_t is a directory, $_e is not" >&2
                exit 1
            fi
            if ! cmp -s "$_e" "$_t" && [ -z "$ignoreCollisions" ]; then
                echo "buildEnv: collision between $(readlink "$_t") and $_e" >&2
                exit 1
            fi
        else
            ln -s "$_e" "$_t"
        fi
    done
}

# The paths, each followed by what it asks to come along
# (nix-support/propagated-user-env-packages, as nixpkgs' buildEnv reads it),
# each once.
_all=
_buildenv_find() {
    local _q _line
    case " $_all " in *" $1 "*) return 0 ;; esac
    _all="$_all $1"
    if [ -f "$1/nix-support/propagated-user-env-packages" ]; then
        read -r _line < "$1/nix-support/propagated-user-env-packages" || true
        for _q in $_line; do _buildenv_find "$_q"; done
    fi
}
for _p in $paths; do _buildenv_find "$_p"; done

mkdir -p "$out"
for _p in $_all; do
    for _l in $pathsToLink; do
        _l=${_l%/}
        if [ -d "$_p$_l" ]; then
            _buildenv_link "$_p$_l" "$out$_l"
        fi
    done
done
unset _p _l _e _t _all
eval "$postBuild"
