# hello: prints a greeting, `Hello, world!` by default.
greeting="Hello, world!"
while [ $# -gt 0 ]; do
    case $1 in
        -g|--greeting) greeting=${2?"hello: $1 needs an argument"}; shift ;;
        --greeting=*) greeting=${1#--greeting=} ;;
        -v|--version) echo "hello (mini-nixpkgs) 1.0"; exit 0 ;;
        -h|--help) echo "usage: hello [-g GREETING]"; exit 0 ;;
        *) echo "hello: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
printf '%s\n' "$greeting"
