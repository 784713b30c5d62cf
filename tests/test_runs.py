"""The run registry: folder names, discovery (with every odd folder reported), metrics files."""

from __future__ import annotations

import json

import pytest

from stepcoder_lib.training import runs


def _run(root, config, seed, metrics=None, model=True):
    path = root / config / f"seed{seed}"
    path.mkdir(parents=True)
    if model:
        (path / "model").mkdir()
        (path / "model" / "config.json").write_text("{}")
    (path / "config.json").write_text(json.dumps({"seed": seed}))
    if metrics is not None:
        (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return path


def test_config_names_cover_the_papers_rows_for_both_algorithms():
    assert runs.config_name("ppo", cccs=True, fgo=True) == "ppo-stepcoder"
    assert runs.config_name("ppo", cccs=False, fgo=False) == "ppo-vanilla"
    assert runs.config_name("grpo", cccs=True, fgo=False) == "grpo-cccs"
    assert runs.config_name("grpo", cccs=False, fgo=True) == "grpo-fgo"
    assert list(runs.CONFIGS)[:6] == ["base", "sft", "ppo-vanilla", "ppo-fgo", "ppo-cccs", "ppo-stepcoder"]
    with pytest.raises(ValueError, match="algo"):
        runs.config_name("dpo", True, True)


def test_run_dir_lives_under_the_artifacts_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path))
    assert runs.run_dir("tiny", "ppo-fgo", 1) == tmp_path / "runs" / "tiny" / "ppo-fgo" / "seed1"
    with pytest.raises(ValueError, match="run config"):
        runs.run_dir("tiny", "ppo-magic", 0)


def test_discovery_orders_runs_like_the_table_and_reports_odd_folders(tmp_path):
    _run(tmp_path, "ppo-stepcoder", 1)
    _run(tmp_path, "ppo-stepcoder", 0)
    _run(tmp_path, "sft", 0)
    _run(tmp_path, "grpo-vanilla", 0, model=False)
    (tmp_path / "ppo-magic" / "seed0").mkdir(parents=True)
    (tmp_path / "sft" / "notes").mkdir()
    found, problems = runs.discover_runs(tmp_path)
    assert [(r.config, r.seed) for r in found] == [("sft", 0), ("ppo-stepcoder", 0), ("ppo-stepcoder", 1),
                                                   ("grpo-vanilla", 0)]
    assert found[0].settings == {"seed": 0} and found[0].has_model and not found[-1].has_model
    assert len(problems) == 3
    assert any("ppo-magic" in p and "unknown config" in p for p in problems)
    assert any("notes" in p for p in problems) and any("grpo-vanilla" in p and "no model" in p for p in problems)
    assert runs.discover_runs(tmp_path / "absent")[0] == []


def test_metrics_load_long_with_aliases_and_name_the_bad_line(tmp_path):
    _run(tmp_path, "ppo-cccs", 0, [{"step": 0, "reward": -0.5, "curriculum/mean_stage": 2.0},
                                   {"step": 1, "reward": -0.2, "curriculum/mean_stage": 1.5}])
    _run(tmp_path, "ppo-cccs", 1, [{"reward_mean": -0.4}])
    found, _ = runs.discover_runs(tmp_path)
    metrics = runs.load_metrics(found)
    assert list(metrics.seed) == [0, 0, 1] and set(metrics.config) == {"ppo-cccs"}
    assert runs.metric_column(metrics, "mean_stage") == "curriculum/mean_stage"
    assert runs.metric_column(metrics, "reward") == "reward_mean"  # the documented key first
    assert runs.metric_column(metrics, "fgo_kept") is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 0}\n{"step": 1,\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: invalid JSON"):
        runs.read_metrics(bad)


def _keyed(root, name, done_at=None, model="policy"):
    """A run in the trainer's keyed layout: <algo>-<setting>-seed<k>-<key>/ with policy/ and done.json."""
    import os

    path = root / name
    (path / model).mkdir(parents=True)
    (path / model / "config.json").write_text("{}")
    if done_at is not None:
        (path / "done.json").write_text("{}")
        os.utime(path / "done.json", ns=(done_at, done_at))
    return path


def test_the_trainers_keyed_layout_is_read_and_the_latest_finished_run_counts(tmp_path):
    old = _keyed(tmp_path, "ppo-stepcoder-seed0-aaa111", done_at=1_000_000_000)
    new = _keyed(tmp_path, "ppo-stepcoder-seed0-bbb222", done_at=2_000_000_000)
    unfinished = _keyed(tmp_path, "ppo-stepcoder-seed0-ccc333")
    grpo = _keyed(tmp_path, "grpo-fgo-seed1-ddd444", done_at=1_500_000_000)
    waiting = _keyed(tmp_path, "ppo-cccs-seed0-eee555")  # killed before done.json: noted, never evaluated
    _run(tmp_path, "ppo-stepcoder", 0)  # the same config and seed in the plain layout: the trainer's run wins
    found, problems = runs.discover_runs(tmp_path)
    assert [(r.config, r.seed, r.path) for r in found] == [("ppo-stepcoder", 0, new), ("grpo-fgo", 1, grpo)]
    assert found[0].model_dir == new / "policy" and found[0].label == "StepCoder (PPO)"
    assert any(str(old) in p and "superseded" in p for p in problems)
    assert any(str(unfinished) in p and "superseded" in p for p in problems)
    assert any(str(tmp_path / "ppo-stepcoder" / "seed0") in p and "superseded" in p for p in problems)
    assert any(str(waiting) in p and "unfinished" in p for p in problems)
