"""The results table: the paper's numbers as printed, our cells from real verdicts, provenance, reference checks."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from eval_helpers import synthetic_test_problems

from stepcoder_lib.results.evaluation import EvalResult, judge_completions, pass_at_k_table
from stepcoder_lib.results.prompts import PromptFormat
from stepcoder_lib.results.table import (
    APPS_COLUMNS,
    COLUMNS,
    PAPER_TABLE1,
    PAPER_TABLE2,
    build_table,
    compare_to_reference,
    difference_interval,
    paper_value,
    read_table_csv,
    table_cells,
    to_markdown,
    write_table,
)

RAW = PromptFormat("raw", lambda p: "", lambda p, prompt, completion: completion)


def test_the_papers_numbers_are_the_digests():
    assert PAPER_TABLE1.loc["StepCoder", list(APPS_COLUMNS)].tolist() == [59.7, 23.5, 8.6, 36.1]
    assert PAPER_TABLE1.loc["Vanilla PPO", "overall"] == 31.7 and len(PAPER_TABLE1) == 14
    assert PAPER_TABLE2.loc["SFT on APPS+"].tolist() == [55.5, 54.8] and len(PAPER_TABLE2) == 6
    assert paper_value("ppo-cccs", "competition") == 8.6  # "w/o FGO (CCCS only)"
    assert paper_value("ppo-fgo", "introductory") == 58.7  # "w/o CCCS (FGO only)"
    assert paper_value("base", "HumanEval") == 78.0  # the RL rows' backbone, DeepSeek-Coder-Instruct
    assert math.isnan(paper_value("ppo-fgo", "MBPP")) and math.isnan(paper_value("grpo-stepcoder", "overall"))


@pytest.fixture(scope="module")
def judged(executor):
    """Records of known completions: problem i gets i+1 of 3 samples right (a known pass@1 per problem)."""
    problems = synthetic_test_problems(10)
    completions = [[p.canonical_solution if j <= i % 3 else "def broken(:\n" for j in range(3)]
                   for i, p in enumerate(problems)]
    records = pd.DataFrame(judge_completions(problems, [""] * len(problems), completions, RAW, executor,
                                             progress=False))
    return problems, records


def _result(records, key, seed_drop=0):
    """An EvalResult over the records, with one problem's samples flipped to wrong per ``seed_drop``."""
    recs = records.copy()
    if seed_drop:
        first = recs.problem_id.iloc[0]
        recs.loc[recs.problem_id == first, "passed"] = False
    return EvalResult("m", "apps_plus", key, recs, (1, 2), {"cache_dir": f"/cache/{key}"})


def test_cells_aggregate_over_seeds_with_provenance(judged, tmp_path):
    _, records = judged
    cells = []
    for config in ("sft", "ppo-vanilla", "ppo-stepcoder"):
        for seed in (0, 1):
            cells += table_cells(config, seed, f"/runs/{config}/seed{seed}",
                                 apps=_result(records, f"key-{config}-{seed}", seed_drop=seed),
                                 mbpp=_result(records, f"mbpp-{config}-{seed}") if config == "sft" else None)
    cells = pd.DataFrame(cells)
    table = build_table(cells)
    assert list(table.index) == ["sft", "ppo-vanilla", "ppo-stepcoder"]  # the paper's row order
    assert [c for c in dict.fromkeys(table.columns.get_level_values(0)) if c != "model"] == list(COLUMNS)
    seed0 = pass_at_k_table(_result(records, "a").records, (1,))
    seed1 = pass_at_k_table(_result(records, "b", seed_drop=1).records, (1,))
    for column in APPS_COLUMNS:
        if column not in seed0.index:
            continue
        values = [seed0.loc[column, "pass@1"], seed1.loc[column, "pass@1"]]
        assert table.loc["ppo-stepcoder", (column, "mean")] == pytest.approx(sum(values) / 2)
        assert table.loc["ppo-stepcoder", (column, "std")] == pytest.approx(pd.Series(values).std(ddof=1))
        assert table.loc["ppo-stepcoder", (column, "n")] == 2
    assert table.loc["ppo-stepcoder", ("overall", "paper")] == 36.1
    assert table.loc["sft", ("MBPP", "n")] == 2 and table.loc["ppo-vanilla", ("MBPP", "n")] == 0
    # Every number is traceable: one cell per seed with the run folder and cache key that produced it.
    assert cells.run.str.startswith("/runs/").all() and cells.cache_key.str.len().gt(0).all()
    for (config, column), group in cells.groupby(["config", "column"]):
        assert sorted(group.seed) == [0, 1]
        assert table.loc[config, (column, "mean")] == pytest.approx(group.value.mean())

    paths = write_table(table, cells, tmp_path, notes=["profile smoke"])
    md = paths["markdown"].read_text()
    assert "StepCoder (PPO)" in md and "· paper" in md and "profile smoke" in md and " ± " in md
    back = read_table_csv(paths["csv"])
    assert list(back.index) == list(table.index)
    assert back.loc["sft", "overall"] == pytest.approx(table.loc["sft", ("overall", "mean")], abs=1e-4)
    provenance = json.loads(paths["provenance"].read_text())
    assert provenance["sft/overall/seed1"]["cache_key"] == "key-sft-1" and len(provenance) == len(cells)
    assert paths["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(paths["cells"]).shape[0] == len(cells)


def test_two_values_for_one_cell_are_an_error(judged):
    _, records = judged
    cells = table_cells("sft", 0, "/r", apps=_result(records, "k")) * 2
    with pytest.raises(ValueError, match="two values"):
        build_table(cells)
    with pytest.raises(ValueError, match="config"):
        table_cells("ppo-magic", 0, "/r", apps=_result(records, "k"))


def _interval_cells(shift: float = 0.0):
    """Cells of two rows and their intervals (+-3 points around each mean), SFT moved by ``shift``."""
    cells = [{"config": c, "seed": s, "column": col, "value": v + s + (shift if c == "sft" else 0), "run": "r",
              "cache_key": "k"} for c, v in (("sft", 10.0), ("ppo-stepcoder", 20.0)) for s in (0, 1)
             for col in APPS_COLUMNS]
    frame = pd.DataFrame(cells)
    means = frame.groupby(["config", "column"]).value.mean().reset_index()
    intervals = means.assign(low=means.value - 3.0, high=means.value + 3.0)
    return frame, intervals


def test_the_table_prints_each_cell_with_its_interval_and_the_paired_differences(tmp_path):
    cells, intervals = _interval_cells()
    table = build_table(cells, intervals)
    assert table.loc["sft", ("overall", "low")] == pytest.approx(7.5)
    differences = pd.DataFrame([{"config": "ppo-stepcoder", "baseline": "sft", "column": c, "metric": "pass@1",
                                 "difference": 10.0, "low": 6.25, "high": 13.5} for c in APPS_COLUMNS])
    paths = write_table(table, cells, tmp_path, differences=differences)
    md = paths["markdown"].read_text()
    assert "| 10.5 [7.5, 13.5]" in md and "· paper" in md and "95% interval" in md
    assert "StepCoder (PPO) − SFT" in md and "+10.0 [+6.2, +13.5]" in md
    back = read_table_csv(paths["csv"])
    assert back.loc["ppo-stepcoder", "overall_vs_sft"] == 10.0 and back.loc["ppo-stepcoder", "overall_vs_sft_low"] \
        == 6.25 and math.isnan(back.loc["sft", "overall_vs_sft"]) and math.isnan(back.loc["sft", "overall_vs_vanilla"])
    assert back.loc["sft", "overall_high"] == pytest.approx(13.5) and back.loc["sft", "overall_paper"] == 29.8
    assert paths["differences_figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_difference_interval_combines_both_intervals_by_mover():
    low, high = difference_interval((30.0, 27.0, 34.0), (28.0, 26.0, 29.0))
    assert low == pytest.approx(2.0 - math.hypot(3.0, 1.0)) and high == pytest.approx(2.0 + math.hypot(4.0, 2.0))


def test_reference_comparison_judges_a_rerun_by_intervals(tmp_path):
    cells, intervals = _interval_cells()
    write_table(build_table(cells, intervals), cells, tmp_path / "ref", figure=False)
    reference = read_table_csv(tmp_path / "ref" / "table.csv")
    current = reference.copy()
    for config, column, shift in (("sft", "overall", 4.0),  # within: rerun - reference = 4 [4 - 4.2, 4 + 4.2]
                                  ("ppo-stepcoder", "competition", 5.0)):  # outside: 5 > sqrt(3² + 3²)
        current.loc[config, [column, f"{column}_low", f"{column}_high"]] += shift
    current.loc["ppo-stepcoder", "interview"] = float("nan")  # missing in the new run
    current.loc["sft", "interview_low"] = float("nan")  # a cell without an interval: cannot be judged
    report = compare_to_reference(current, reference)
    status = {(r.config, r.quantity): r.status for r in report.itertuples()}
    assert status[("sft", "overall")] == "within" and status[("sft", "introductory")] == "within"
    assert status[("ppo-stepcoder", "competition")] == "outside"
    assert status[("ppo-stepcoder", "interview")] == "missing" and status[("sft", "interview")] == "no interval"
    assert len(report) == 8 and report.loc[report.status == "outside", "difference"].item() == pytest.approx(5.0)
    row = report.set_index(["config", "quantity"]).loc[("sft", "overall")]
    assert row.rule == "difference interval (MOVER)" and row.low == pytest.approx(4.0 - math.hypot(3.0, 3.0))
    old = reference.drop(columns=[c for c in reference.columns if c.endswith(("_low", "_high"))])
    against_old = compare_to_reference(current, old).set_index(["config", "quantity"])  # a reference without
    assert against_old.loc[("sft", "overall"), "status"] == "outside"  # intervals: 10.5 not in [11.5, 17.5]
    assert against_old.loc[("ppo-stepcoder", "overall"), "status"] == "within"
    assert against_old.loc[("sft", "introductory"), "rule"] == "reference in our interval"
    assert "introductory" in to_markdown(build_table(cells))


def test_written_cells_and_provenance_hold_paths_relative_to_the_artifacts_folder(judged, tmp_path, monkeypatch):
    """Committed reference files must not carry one machine's absolute paths; hub ids and outside paths stay."""
    _, records = judged
    art = tmp_path / "artifacts"
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(art))
    result = _result(records, "key-a")
    result.meta["cache_dir"] = str(art / "eval_cache" / "key-a")
    cells = table_cells("sft", 0, art / "runs" / "tiny" / "sft-seed0", apps=result)
    cells += table_cells("base", 0, "Qwen/Qwen2.5-0.5B", apps=_result(records, "key-b"))
    paths = write_table(build_table(cells), pd.DataFrame(cells), tmp_path / "results", figure=False)
    written = pd.read_csv(paths["cells"])
    assert set(written.run) == {"runs/tiny/sft-seed0", "Qwen/Qwen2.5-0.5B"}
    assert set(written[written.config == "sft"].cache_dir) == {"eval_cache/key-a"}
    assert set(written[written.config == "base"].cache_dir) == {"/cache/key-b"}  # outside the artifacts: unchanged
    provenance = json.loads(paths["provenance"].read_text())
    assert provenance["sft/overall/seed0"]["run"] == "runs/tiny/sft-seed0"
    assert str(tmp_path) not in paths["cells"].read_text() + paths["provenance"].read_text()
