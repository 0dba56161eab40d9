# The nixpkgs idiom for a Python environment: one interpreter that imports
# the packages, with everything they depend on.
with import ../mini-nixpkgs { };
python3.withPackages (ps: [ ps.flask ])
