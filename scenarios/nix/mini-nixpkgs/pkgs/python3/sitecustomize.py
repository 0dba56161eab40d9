# mini-nixpkgs: import the packages of the environment python3 was started
# from. Run as ENV/bin/python3 (a buildEnv or python3.withPackages, where
# bin/python3 is a symlink to this interpreter), Python finds its standard
# library through the symlink, but sys.executable keeps ENV, so
# ENV/lib/pythonX.Y/site-packages is added here. This stands in for nixpkgs'
# NIX_PYTHONPREFIX wrapper. A venv has its own site-packages and is left alone.
import os
import site
import sys

if sys.prefix == sys.base_prefix and sys.executable:
    _env = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
    _site = os.path.join(
        _env, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"
    )
    if os.path.isdir(_site):
        site.addsitedir(_site)
