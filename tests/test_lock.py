"""requirements.lock pins every requirement at a version inside its range, and `make lock` makes one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT, make, tail


def requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in (l.split("#")[0].strip() for l in lines) if line and not line.startswith("-")]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line.strip())
            assert match, f"not an exact pin in {path.name}: {line!r}"
            found[canonicalize_name(match[1])] = match[2]
    return found


def check_lock(path: Path) -> None:
    locked = pins(path)
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is in requirements.txt but not pinned in {path.name}"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{path.name} pins {req.name}=={locked[name]}, outside requirements.txt's {req.specifier}"
        )
    assert "emfit" not in locked  # installed editable from src/, never from the lock


def test_committed_lock_satisfies_the_ranges():
    check_lock(ROOT / "requirements.lock")


@pytest.mark.slow
def test_make_lock_resolves_the_ranges(tmp_path):
    proc = make("lock", f"LOCK={tmp_path / 'requirements.lock'}", f"LOCK_VENV={tmp_path / 'venv'}")
    assert proc.returncode == 0, tail(proc)
    check_lock(tmp_path / "requirements.lock")
    assert not (tmp_path / "venv").exists()
