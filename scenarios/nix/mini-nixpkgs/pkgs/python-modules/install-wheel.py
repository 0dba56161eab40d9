"""Install the wheel $src into $out with pypa/installer ($installer, a wheel
on sys.path), the way nixpkgs' pypaInstallHook does.

Files go to $out/lib/pythonX.Y/site-packages and scripts to $out/bin, each
script starting with the interpreter and then adding the site-packages of
the package and of everything it depends on ($pythonPath), so `flask` runs
without a PYTHONPATH. The .pyc files are compiled with SOURCE_DATE_EPOCH
set, so they are checked against the source's hash, not its mtime.
"""

import os
import shutil
import sys

sys.path.insert(0, os.environ["installer"])

from installer import install  # noqa: E402
from installer.destinations import SchemeDictionaryDestination  # noqa: E402
from installer.sources import WheelFile  # noqa: E402

out = os.environ["out"]
version = "python%d.%d" % sys.version_info[:2]
site = os.path.join(out, "lib", version, "site-packages")
scheme = {
    "purelib": site,
    "platlib": site,
    "headers": os.path.join(out, "include", version),
    "scripts": os.path.join(out, "bin"),
    "data": out,
}
destination = SchemeDictionaryDestination(
    scheme,
    interpreter=os.path.join(os.environ["python"], "bin", "python3"),
    script_kind="posix",
    bytecode_optimization_levels=(0,),
)
# installer reads the name and version from the file name: drop the
# store path's hash prefix.
wheel_file = os.path.basename(os.environ["src"]).split("-", 1)[1]
shutil.copyfile(os.environ["src"], wheel_file)
with WheelFile.open(wheel_file) as wheel:
    install(wheel, destination, {"INSTALLER": b"mini-nixpkgs\n"})

paths = [site] + [
    os.path.join(p, "lib", version, "site-packages")
    for p in os.environ.get("pythonPath", "").split()
]
bindir = scheme["scripts"]
for name in sorted(os.listdir(bindir)) if os.path.isdir(bindir) else []:
    script = os.path.join(bindir, name)
    with open(script) as f:
        lines = f.read().split("\n")
    if not lines[0].startswith("#!"):
        continue
    lines.insert(1, f"import site; [site.addsitedir(p) for p in {paths!r}]")
    with open(script, "w") as f:
        f.write("\n".join(lines))
