"""The results figures draw what their data says (one line per config, bars per model) and rerun byte-identically."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from eval_helpers import write_fake_run

from stepcoder_lib.results import figures
from stepcoder_lib.training import runs


def _metrics(tmp_path):
    for config, cccs, fgo in (("ppo-vanilla", False, False), ("ppo-cccs", True, False), ("ppo-stepcoder", True, True)):
        for seed in (0, 1):
            path = tmp_path / config / f"seed{seed}"
            path.mkdir(parents=True)
            rows = [{"step": s, "reward_mean": -1 + 0.1 * s + 0.05 * seed, **({"mean_stage": 3 - s} if cccs else {}),
                     **({"fgo_kept_share": 0.5 + 0.01 * s} if fgo else {})} for s in range(4)]
            (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    found, _ = runs.discover_runs(tmp_path)
    return runs.load_metrics(found)


def test_training_curves_have_one_line_and_band_per_config(tmp_path):
    metrics = _metrics(tmp_path)
    reward = figures.plot_training_reward(metrics)
    ax = reward.axes[0]
    assert [line.get_label().split(" (")[0] for line in ax.lines] == ["vanilla RL", "CCCS only", "StepCoder"]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([-0.975, -0.875, -0.775, -0.675])  # mean of 2 seeds
    assert len(ax.collections) == 3  # a min-max band per config
    stage = figures.plot_curriculum_progress(metrics).axes[0]
    assert len(stage.lines) == 2  # only the CCCS configs log a stage
    kept = figures.plot_fgo_kept_share(metrics).axes[0]
    assert [line.get_label().split(" (")[0] for line in kept.lines] == ["StepCoder"]
    assert figures.figure_png(figures.plot_training_reward(metrics)) == figures.figure_png(reward)


def test_missing_quantities_draw_a_note_instead_of_failing():
    fig = figures.plot_curriculum_progress(pd.DataFrame(columns=["step", "config", "seed"]))
    assert "no run logged" in fig.axes[0].texts[0].get_text()
    assert figures.plot_failure_breakdown(pd.DataFrame(columns=["model", "difficulty", "family", "share"]))


def test_failure_breakdown_bars_per_model_and_tier():
    rows = [{"model": m, "difficulty": d, "family": f, "count": 1, "share": share}
            for m, base in (("SFT", 10.0), ("StepCoder", 5.0))
            for d in ("introductory", "interview", "competition", "overall")
            for f, share in (("compile_error", base), ("runtime_error", base / 2), ("wrong_answer", base))]
    fig = figures.plot_failure_breakdown(pd.DataFrame(rows))
    compile_ax, runtime_ax = fig.axes[:2]
    assert len(compile_ax.patches) == 2 * 4 and len(runtime_ax.patches) == 2 * 4
    assert compile_ax.patches[0].get_height() == 10.0 and runtime_ax.patches[0].get_height() == 15.0
    assert compile_ax.patches[4].get_height() == 5.0  # StepCoder's first tier


def test_pass_at_k_curves(tmp_path):
    curves = pd.DataFrame([{"model": m, "k": k, "mean": v * k, "std": 0, "min": v * k, "max": v * k + 1, "n": 2}
                           for m, v in (("SFT", 5.0), ("StepCoder", 7.0)) for k in (1, 2, 4)])
    ax = figures.plot_pass_at_k(curves).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[5, 10, 20], [7, 14, 28]]
    path = figures.save_png(figures.plot_pass_at_k(curves), tmp_path / "f" / "passk.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_fake_runs_helper_writes_what_the_registry_reads(tmp_path):
    run = write_fake_run(tmp_path, "ppo-fgo", 1, model_seed=3, fgo=True)
    found, problems = runs.discover_runs(tmp_path)
    assert problems == [] and found[0].path == run and found[0].has_model
    assert runs.metric_column(runs.load_metrics(found), "fgo_kept") == "fgo_kept_share"
