"""The lock file pins every dependency pyproject.toml names, each at one version with its hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from backend.config import PROJECT_DIR


def _locked() -> dict[str, tuple[str, list[str]]]:
    text = (PROJECT_DIR / "requirements.lock").read_text()
    entries: dict[str, tuple[str, list[str]]] = {}
    # One entry: "name==version [; marker] \" then "--hash=sha256:..." lines, then "# via" comments.
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        name, _, rest = head.partition("==")
        version = rest.split(";", 1)[0].strip()
        entries[canonicalize_name(name)] = (
            version,
            re.findall(r"--hash=sha256:[0-9a-f]{64}", block),
        )
    return entries


def test_every_dependency_is_pinned_with_hashes():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    locked = _locked()
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in locked]
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    outside = [
        f"{r.name}=={locked[canonicalize_name(r.name)][0]} vs {r.specifier}"
        for r in wanted
        if not r.specifier.contains(locked[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert not outside, (
        f"locked versions outside pyproject.toml's ranges (run `make lock`): {outside}"
    )
    unhashed = [name for name, (_, hashes) in locked.items() if not hashes]
    assert not unhashed, f"locked without hashes: {unhashed}"
