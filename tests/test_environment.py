"""The pip pins, the lock file and environment.yml describe one environment."""

from __future__ import annotations

import re

from conftest import REPO_ROOT


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip().lstrip("-").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_environment_yml_matches_requirements():
    req = _pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    env_text = (REPO_ROOT / "environment.yml").read_text()
    env = _pins(env_text.split("- pip:")[1].splitlines())
    assert req and env == req, set(req.items()) ^ set(env.items())
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env_text, re.M)


def test_lock_pins_every_top_level_requirement_at_the_same_version():
    req = _pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    lock = _pins((REPO_ROOT / "requirements.lock").read_text().splitlines())
    assert req["torch"] == "2.13.0"  # an unpinned torch drags in gigabytes of CUDA wheels
    mismatched = {name: (v, lock.get(name)) for name, v in req.items() if lock.get(name) != v}
    assert not mismatched, mismatched


def test_pyproject_ranges_admit_every_pin() -> None:
    """``pip install .`` and ``make venv`` agree: each pinned version satisfies pyproject's range for it."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    ranges = {r.name.lower().replace("_", "-"): r.specifier for r in declared}
    req = _pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    assert set(req) == set(ranges), set(req) ^ set(ranges)
    outside = {name: (v, str(ranges[name])) for name, v in req.items() if v not in ranges[name]}
    assert not outside, outside
