# python3's setup hook: every input with a site-packages directory joins
# PYTHONPATH, so `import flask` works in `nix-shell` as in a build.
addPythonPath() {
    if [ -d "$1/lib/python@pythonVersion@/site-packages" ]; then
        PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$1/lib/python@pythonVersion@/site-packages"
        export PYTHONPATH
    fi
}
envHooks="${envHooks-} addPythonPath"
