# todo: a tiny todo list, one item per line in ${TODO_FILE:-$HOME/.todo}.
# Shell builtins only, so it works on any PATH, even an empty one.
file=${TODO_FILE:-${HOME:-/homeless-shelter}/.todo}

usage() {
    echo "usage: todo add TEXT... | todo list | todo done N | todo clear" >&2
    exit 2
}

case ${1-} in
    add)
        shift
        [ $# -gt 0 ] || usage
        printf '%s\n' "$*" >> "$file"
        echo "added: $*"
        ;;
    list)
        [ -f "$file" ] || exit 0
        n=0
        while IFS= read -r item; do
            n=$((n + 1))
            printf '%d. %s\n' "$n" "$item"
        done < "$file"
        ;;
    done)
        [ $# -eq 2 ] || usage
        [ -f "$file" ] || { echo "todo: no item $2" >&2; exit 1; }
        n=0 rest= found=
        while IFS= read -r item; do
            n=$((n + 1))
            if [ "$n" = "$2" ]; then
                found=$item
            else
                rest="$rest$item
"
            fi
        done < "$file"
        [ -n "$found" ] || { echo "todo: no item $2" >&2; exit 1; }
        printf '%s' "$rest" > "$file"
        echo "done: $found"
        ;;
    clear)
        : > "$file"
        ;;
    *)
        usage
        ;;
esac
