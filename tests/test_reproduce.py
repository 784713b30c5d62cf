"""``make reproduce``'s orchestration on small real notebooks: order, skipping, FORCE, failures, the terminal.

The notebooks here are real (nbformat, executed by papermill in a real kernel) and small: one writes a
file under the artifacts folder, the next reads it. The whole chain 01-06 is tests/test_reproduce_chain.py.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest

from stepcoder_lib import reproduce
from stepcoder_lib.results_table import APPS_COLUMNS, build_table, write_table
from stepcoder_lib.stats import cell_intervals, paired_differences, problem_matrix

MAKE = """\
import os, pathlib
from stepcoder_lib.progress import progress
art = pathlib.Path(os.environ["STEPCODER_ARTIFACTS"])
art.mkdir(parents=True, exist_ok=True)
(art / "made.txt").write_text(f"{profile}:{value}")
for _ in progress(range(3), desc="fake work"):
    pass
print("terminal progress:", os.environ.get("STEPCODER_TERMINAL_PROGRESS"))
"""
USE = """\
import os, pathlib
import stepcoder_lib
art = pathlib.Path(os.environ["STEPCODER_ARTIFACTS"])
(art / "used.txt").write_text((art / "made.txt").read_text().upper())
print("library:", stepcoder_lib.__file__)
"""


def _notebook(path, params: str, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def _outputs(path) -> str:
    nb = json.loads(path.read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture()
def chain(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_make.ipynb", 'profile = "tiny"\nvalue = 1', MAKE)
    _notebook(folder / "02_use.ipynb", 'profile = "tiny"', USE)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "module.py").write_text("X = 1\n")
    out = tmp_path / "papermill_runs" / "smoke"

    def run(**kw):
        steps = reproduce.run("smoke", out, folder=folder, lib_root=lib, stream=False, log=lambda s: None, **kw)
        return [s.status for s in steps]

    return run, folder, lib, out, tmp_path / "artifacts"


@pytest.mark.slow
def test_steps_skip_when_inputs_are_unchanged_and_rerun_when_any_changes(chain, capfd):
    run, folder, lib, out, art = chain
    assert run() == ["ran", "ran"]
    assert (art / "used.txt").read_text() == "SMOKE:1"  # the profile parameter reached the notebook
    assert "terminal progress: 1" in _outputs(out / "01_make.ipynb")
    terminal = capfd.readouterr().err  # the kernel's own stderr is the terminal of `make reproduce`
    assert "fake work" in terminal and "3/3" in terminal
    assert str(reproduce.REPO / "stepcoder_lib") in _outputs(out / "02_use.ipynb")  # this checkout's library
    stamp = json.loads((out / ".stamps" / "01_make.json").read_text())
    assert str(art / "made.txt") in stamp["outputs"] and stamp["params"] == {"profile": "smoke"}

    assert run() == ["skipped", "skipped"]
    _notebook(folder / "02_use.ipynb", 'profile = "tiny"', USE + "print('edited')\n")
    assert run() == ["skipped", "ran"]  # only the edited notebook
    assert run(extra_params={"value": 2}) == ["ran", "ran"]  # a parameter; the upstream output changed too
    assert (art / "used.txt").read_text() == "SMOKE:2"
    assert run(extra_params={"value": 2}) == ["skipped", "skipped"]
    assert run(extra_params={"value": 2}, force=True) == ["ran", "ran"]  # FORCE=1
    (art / "made.txt").unlink()  # an output is gone: its step and everything after run again
    assert run(extra_params={"value": 2}) == ["ran", "ran"]
    (lib / "module.py").write_text("X = 2\n")  # library source changed: everything runs
    assert run(extra_params={"value": 2}) == ["ran", "ran"]
    timings = json.loads((out / "timings.json").read_text())
    assert [t["notebook"] for t in timings] == ["01_make.ipynb", "02_use.ipynb"] and timings[0]["wall_s"] > 0


@pytest.mark.slow
def test_a_failing_step_stops_the_run_and_is_not_marked_done(chain):
    run, folder, _, out, _ = chain
    _notebook(folder / "03_fail.ipynb", 'profile = "tiny"', "raise RuntimeError('boom')")
    with pytest.raises(SystemExit, match=r"03_fail.ipynb failed in cell .*RuntimeError: boom"):
        run()
    assert not (out / ".stamps" / "03_fail.json").exists() and (out / ".stamps" / "02_use.json").exists()
    _notebook(folder / "03_fail.ipynb", 'profile = "tiny"', "print('fixed')")
    assert run() == ["skipped", "skipped", "ran"]


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown profile"):
        reproduce.run("huge", tmp_path)


def _results(path, shift: float = 0.0) -> None:
    """A run's results: two rows on real bootstrap intervals (8 problems, 2 seeds), SFT's passes shifted up."""
    rows = {}
    for config, rate in (("sft", 0.25 + shift), ("ppo-stepcoder", 0.5)):
        rows[config] = {seed: pd.DataFrame([{"problem_id": f"{tier}{p}", "difficulty": tier, "sample": j,
                                             "passed": j < round(4 * min(1.0, rate + 0.25 * (p % 2) * seed)),
                                             "verdict": "passed"}
                                            for tier in ("introductory", "interview", "competition")
                                            for p in range(8) for j in range(4)]) for seed in (0, 1)}
    cells = pd.DataFrame([{"config": c, "seed": s, "column": col, "run": "r", "cache_key": "k",
                           "value": problem_matrix({s: recs}).estimate(col)}
                          for c, row in rows.items() for s, recs in row.items() for col in APPS_COLUMNS])
    differences = paired_differences(rows)
    write_table(build_table(cells, cell_intervals(rows)), cells, path, figure=False, differences=differences)
    (path / "failure_breakdown.png").write_bytes(b"\x89PNG fake")


def test_check_reproduction_against_a_reference_copy(tmp_path):
    out = tmp_path / "run"
    reference = tmp_path / "reference"
    lines: list[str] = []
    assert reproduce.check("tiny", out, reference, log=lines.append) == 1 and "no reference table" in lines[-1]
    _results(out / "results")
    assert reproduce.update_reference("tiny", out, reference) == reference
    assert {p.name for p in reference.iterdir()} >= {"table.csv", "table.md", "cells.csv", "differences.csv",
                                                     "failure_breakdown.png"}
    lines.clear()
    assert reproduce.check("tiny", out, reference, log=lines.append) == 0
    assert "12 estimates within, 0 outside" in lines[-1]  # 2 rows x 4 cells, 4 differences from SFT
    _results(out / "results", shift=0.25)  # a rerun whose SFT passes one more sample in 4 on every problem
    lines.clear()
    assert reproduce.check("tiny", out, reference, log=lines.append) == 1
    assert "| outside" in lines[-2]
    broken = pd.read_csv(out / "results" / "table.csv").set_index("config")
    assert broken.loc["sft", "overall"] - broken.loc["sft", "overall_high"] < 0  # each run's interval is narrow
    assert "8 outside" in lines[-1]  # every SFT cell, and every difference from SFT
    _results(out / "results")
    (out / "results" / "failure_breakdown.png").unlink()
    lines.clear()
    assert reproduce.check("tiny", out, reference, log=lines.append) == 1
    assert any("did not write: failure_breakdown.png" in line for line in lines)


def test_report_prints_where_the_table_and_figures_are(tmp_path):
    _results(tmp_path / "results")
    lines: list[str] = []
    reproduce.report("tiny", tmp_path, [reproduce.Step("06_results.ipynb", "ran", 12.5, "k", "x")], lines.append)
    text = "\n".join(lines)
    assert "06_results.ipynb" in text and "12.5" in text
    assert str(tmp_path / "results" / "table.md") in text and "failure_breakdown.png" in text
    assert "StepCoder (PPO)" in text  # the table itself
    shutil.rmtree(tmp_path / "results")
    lines.clear()
    reproduce.report("tiny", tmp_path, [], lines.append)
    assert "no results table yet" in lines[-1]
