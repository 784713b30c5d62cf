"""The profile's APPS+: built once, cached by a hash of its inputs, capped per difficulty, clear when unreachable."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from stepcoder_lib.data.prepare import cap_stratified, dataset_key, load_splits, prepare_apps_plus
from stepcoder_lib.data.problem import DataUnavailable, Problem
from stepcoder_lib.executor.testcases import TestCases
from stepcoder_lib.settings.cache import MANIFEST, build_once, input_digest, is_built
from stepcoder_lib.settings.profiles import get_profile


@pytest.fixture()
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def test_input_digest_follows_config_and_file_content(tmp_path) -> None:
    f = tmp_path / "a.py"
    f.write_text("x = 1\n")
    base = input_digest({"n": 1}, [f])
    assert input_digest({"n": 1}, [f]) == base
    assert input_digest({"n": 2}, [f]) != base
    f.write_text("x = 2\n")
    assert input_digest({"n": 1}, [f]) != base


def test_build_once_builds_then_hits_and_force_rebuilds(tmp_path) -> None:
    calls = []

    def build(tmp):
        calls.append(tmp)
        (tmp / "out.txt").write_text(str(len(calls)))

    target = tmp_path / "thing-abc"
    assert build_once(target, build, inputs={"k": 1}) == target
    assert build_once(target, build) == target and len(calls) == 1  # cache hit: not rebuilt
    assert json.loads((target / MANIFEST).read_text()) == {"k": 1}
    build_once(target, build, force=True)
    assert len(calls) == 2 and (target / "out.txt").read_text() == "2"


def test_failed_build_leaves_nothing(tmp_path) -> None:
    def build(tmp):
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        build_once(tmp_path / "thing", build)
    assert list(tmp_path.iterdir()) == []


def test_smoke_apps_plus_is_cached_by_its_inputs(artifacts) -> None:
    profile = get_profile("smoke")
    path = prepare_apps_plus(profile, progress=False)
    assert path.parent == artifacts / "apps_plus" and path.name == dataset_key(profile) and is_built(path)
    stamp = (path / "apps_plus.jsonl").stat().st_mtime_ns
    assert prepare_apps_plus(profile, progress=False) == path  # hit: same folder, not rewritten
    assert (path / "apps_plus.jsonl").stat().st_mtime_ns == stamp
    assert (path / "benchmark" / "truth.json").is_file()  # notebook 01 can grade against it
    changed = get_profile("smoke", {"executor.time_limit_s": 1.5})
    assert dataset_key(changed) != dataset_key(profile)  # a cleaning setting is an input: miss
    assert dataset_key(get_profile("smoke", {"rl.steps": 7})) == dataset_key(profile)  # RL is not

    splits = load_splits(profile, progress=False)
    assert set(splits) == {"train", "validation", "test"}
    assert all(p.split == name and p.canonical_solution for name, ps in splits.items() for p in ps)
    capped = load_splits(get_profile("smoke", {"data.max_train_problems": 5, "data.max_eval_problems": 3}), False)
    assert len(capped["train"]) == 5 and len(capped["validation"]) == 3 and len(capped["test"]) == 3

    from stepcoder_lib.training.train import training_problems

    pool = training_problems(get_profile("smoke", {"rl.max_problems": 6}))  # RL's pool: a stratified subset
    assert len(pool) == 6 and {p.id for p in pool} <= {p.id for p in splits["train"]}
    assert pool == cap_stratified(splits["train"], 6) and len(training_problems(profile)) == len(splits["train"])


def _problem(i: int, difficulty: str) -> Problem:
    return Problem(id=f"x/{i:03d}", source="x", difficulty=difficulty, statement="s",
                   tests=TestCases("stdin", ("1",), ("1",)), canonical_solution="print(1)")


def test_cap_keeps_each_difficulty_share() -> None:
    problems = [_problem(i, d) for i, d in enumerate(["introductory"] * 40 + ["interview"] * 40 + ["competition"] * 20)]
    capped = cap_stratified(problems, 10)
    assert Counter(p.difficulty for p in capped) == {"introductory": 4, "interview": 4, "competition": 2}
    assert cap_stratified(problems, None) == problems and len(cap_stratified(problems, 1000)) == 100


def test_unreachable_sources_fail_with_one_sentence(artifacts, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without the hub, whatever this one has
    with pytest.raises(DataUnavailable, match=r"codeparrot/apps.*unreachable") as err:
        prepare_apps_plus(get_profile("paper"), progress=False)
    assert "\n" not in str(err.value)
    assert not list((artifacts / "apps_plus").glob("*/apps_plus.jsonl"))  # nothing half-built published
    with pytest.raises(DataUnavailable, match="neither an existing local path"):
        prepare_apps_plus(get_profile("tiny", {"data.source": "./no/such/folder"}), progress=False)
    with pytest.raises(DataUnavailable, match="does not exist"):
        prepare_apps_plus(get_profile("tiny", {"data.apps_plus": "/no/such/apps_plus.jsonl"}), progress=False)


def test_leftovers_of_a_killed_build_are_removed(tmp_path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    target = tmp_path / "thing-abc"
    abandoned, live = tmp_path / ".thing-abc-dead", tmp_path / ".thing-abc-live"
    for folder, pid in ((abandoned, dead.stdout.strip()), (live, str(os.getpid()))):
        folder.mkdir()
        (folder / ".builder_pid").write_text(pid)
    build_once(target, lambda tmp: (tmp / "x").write_text("1"))
    assert not abandoned.exists() and live.exists()  # a running builder's folder is left alone
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "x"]
