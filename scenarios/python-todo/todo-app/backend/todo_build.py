"""A minimal, deterministic PEP 517 build backend, stdlib only.

Why not setuptools: the setuptools that ``python3 -m venv`` bundles with
CPython 3.11 (66.x) cannot build a wheel without the third-party ``wheel``
package, which ensurepip does not ship, and the scenario builds offline.
This backend handles just this project's layout (``src/<package>/*.py`` and
``[project]`` / ``[project.scripts]`` in pyproject.toml), and it is
reproducible by construction: archive members are sorted, and their
timestamps, owners and modes are fixed.
"""

import base64
import gzip
import hashlib
import io
import os
import tarfile
import time
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _names(project):
    """Return (distribution name for file names, package dir, version)."""
    dist = project["name"].replace("-", "_")
    return dist, dist, project["version"]


def _epoch():
    """SOURCE_DATE_EPOCH, clamped to what zip timestamps can hold (1980)."""
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)


def _sources(package):
    """The package's files, relative to ``src/``, in a fixed order."""
    top = os.path.join(ROOT, "src", package)
    return sorted(package + "/" + name for name in os.listdir(top)
                  if name.endswith(".py"))


def _dist_info(project):
    """The .dist-info files (except RECORD), as {name: bytes}."""
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"],
             "Version: " + project["version"]]
    if "description" in project:
        lines.append("Summary: " + project["description"])
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    files = {
        "METADATA": "\n".join(lines) + "\n",
        "WHEEL": "Wheel-Version: 1.0\nGenerator: todo_build\n"
                 "Root-Is-Purelib: true\nTag: %s\n" % TAG,
    }
    scripts = project.get("scripts", {})
    if scripts:
        files["entry_points.txt"] = "[console_scripts]\n" + "".join(
            "%s = %s\n" % item for item in sorted(scripts.items()))
    return {name: text.encode("utf-8") for name, text in files.items()}


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    dist, _, version = _names(project)
    info = "%s-%s.dist-info" % (dist, version)
    os.makedirs(os.path.join(metadata_directory, info))
    for name, data in _dist_info(project).items():
        with open(os.path.join(metadata_directory, info, name), "wb") as f:
            f.write(data)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    dist, package, version = _names(project)
    info = "%s-%s.dist-info" % (dist, version)
    members = []
    for rel in _sources(package):
        with open(os.path.join(ROOT, "src", rel), "rb") as f:
            members.append((rel, f.read()))
    members += sorted((info + "/" + name, data)
                      for name, data in _dist_info(project).items())
    record = "".join(
        "%s,sha256=%s,%d\n" % (name, base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).rstrip(b"=").decode(), len(data))
        for name, data in members) + info + "/RECORD,,\n"
    members.append((info + "/RECORD", record.encode("utf-8")))
    filename = "%s-%s-%s.whl" % (dist, version, TAG)
    stamp = time.gmtime(_epoch())[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        for name, data in members:
            entry = zipfile.ZipInfo(name, stamp)
            entry.external_attr = 0o100644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(entry, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    dist, package, version = _names(project)
    base = "%s-%s" % (dist, version)
    files = ["backend/todo_build.py", "pyproject.toml"]
    files += ["src/" + rel for rel in _sources(package)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            with open(os.path.join(ROOT, rel), "rb") as f:
                data = f.read()
            entry = tarfile.TarInfo(base + "/" + rel)
            entry.size, entry.mtime, entry.mode = len(data), _epoch(), 0o644
            tar.addfile(entry, io.BytesIO(data))
    filename = base + ".tar.gz"
    with open(os.path.join(sdist_directory, filename), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", filename="", mtime=0) as gz:
            gz.write(raw.getvalue())
    return filename
