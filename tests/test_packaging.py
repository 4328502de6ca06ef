"""The install (`make setup`) is quiet: setuptools warns, once per folder, about a folder of
shipped files that could be imported but is not a package, and about editable_mode=compat."""

import subprocess
import tomllib

from setuptools import find_namespace_packages

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def packages() -> set[str]:
    find = SETUPTOOLS["packages"]["find"]
    assert find.get("namespaces", True)
    return set(find_namespace_packages(str(ROOT), include=find["include"], exclude=find["exclude"]))


def test_every_folder_of_shipped_files_is_a_package():
    found = packages()
    assert {"data", "data.migrations", "flows", "dashboard.views", "collectors"} <= found
    assert not {p for p in found if p.startswith(("tests", "bench")) or "__pycache__" in p}
    tops = [pattern.rstrip("*") for pattern in SETUPTOOLS["packages"]["find"]["include"]]
    tracked = subprocess.run(
        ["git", "ls-files", *tops], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = {f.rsplit("/", 1)[0] for f in tracked if not f.endswith(".py")}
    importable = {
        d.replace("/", ".") for d in folders if all(p.isidentifier() for p in d.split("/"))
    }
    assert importable and importable <= found, importable - found


def test_editable_install_uses_no_deprecated_mode():
    assert "editable_mode" not in (ROOT / "Makefile").read_text()
    assert SETUPTOOLS["package-dir"] == {"": "."}  # a .pth file on the repository, no finder
