"""Notebook 01 runs under papermill, writes the APPS+ files and shows the cleaning report's sections."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from data_helpers import write_apps_problem

from stepcoder_lib.data import NEW_REASONS, CleaningReport, load_apps_plus
from stepcoder_lib.settings.paths import repo_root

REPO_ROOT = repo_root()
NB_PY = REPO_ROOT / "notebooks" / "01_data_cleaning.py"
NB = REPO_ROOT / "notebooks" / "01_data_cleaning.ipynb"


def test_notebook_pair_is_in_sync() -> None:
    import jupytext

    py = jupytext.read(NB_PY)
    ipynb = nbformat.read(NB, as_version=4)

    def sources(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells]

    assert sources(py) == sources(ipynb), "run: jupytext --sync notebooks/01_data_cleaning.py"
    tagged = [c for c in ipynb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "apps_path = None" in tagged[0].source
    assert ipynb.cells[0].cell_type == "markdown" and all(k in ipynb.cells[0].source for k in ("*Needs*", "*takes*"))


def _run(tmp_path, monkeypatch, **params) -> tuple[str, str]:
    """Execute the notebook; returns (printed text, text of the displayed tables)."""
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the kernel imports this checkout's stepcoder_lib
    executed = tmp_path / "01_data_cleaning.out.ipynb"
    # run from a different folder than the repo: the notebook must find the checkout itself
    papermill.execute_notebook(str(NB), str(executed), parameters=params, kernel_name="python3",
                               cwd=str(REPO_ROOT / "notebooks"), progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    printed = "\n".join(o.get("text", "") for o in outputs)
    tables = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs if "text/html" in o.get("data", {}))
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
    assert "def missing_field(" in "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    saw = nb.cells[-1].outputs[-1]["data"]["text/markdown"]  # the closing "What we saw", from this run's numbers
    assert saw.startswith("- ")
    return printed + "\n" + saw, tables


@pytest.mark.slow
def test_notebook_runs_under_papermill_on_the_synthetic_dataset(tmp_path, monkeypatch) -> None:
    out_dir = tmp_path / "apps_plus"
    printed, tables = _run(tmp_path, monkeypatch, profile="smoke", n_train=16, n_test=4, seed=1, defect_rate=0.25,
                           out_dir=str(out_dir), bench_dir=str(tmp_path / "bench"), workers=2, time_limit_s=1.0)
    assert "defects caught: 100.0% of 5; clean kept: 100.0% of 15; reason agrees: 100.0%" in printed
    assert "20 problems read" in printed and "15 kept as APPS+ (75%), 5 dropped" in printed  # What we saw
    problems = load_apps_plus(out_dir / "apps_plus.jsonl")
    assert len(problems) == 15 and {p.split for p in problems} == {"train", "validation", "test"}
    assert all(p.canonical_solution and p.canonical_solution.startswith(p.starter_code) for p in problems)
    report = CleaningReport.load(out_dir / "report.json")
    assert report.n_input == 20 and report.n_kept == 15 and sum(report.drops_by_reason().values()) == 5
    assert json.loads((out_dir / "report.json").read_text())["summary"]["kept"] == 15
    for name in ("report.md", "dropped.jsonl", "survivors_per_difficulty.png", "conditionals_per_solution.png"):
        assert (out_dir / name).stat().st_size > 0
    assert (tmp_path / "bench" / "truth.json").exists() and (tmp_path / "bench" / "train").is_dir()
    for reason in NEW_REASONS:  # every new section is shown, with zeros here
        assert re.search(rf"^{reason}\s+0\s+0\s+0\s+0$", tables, re.M), reason


@pytest.mark.slow
def test_notebook_shows_a_section_per_new_reason_on_real_style_apps(tmp_path, monkeypatch) -> None:
    src = tmp_path / "apps"
    write_apps_problem(src, "train", "0001", solutions=["from fractions import gcd\nprint(int(input()) + 1)\n"])
    write_apps_problem(src, "train", "0002", difficulty="interview", solutions=["print raw_input()\n"])
    write_apps_problem(src, "train", "0003", difficulty="competition",
                       question="Print a number above n. If there are several answers, print any of them.")
    write_apps_problem(src, "train", "0004", solutions=["n = int(input())\nif n < 0:\n    return\nprint(n + 1)\n"])
    write_apps_problem(src, "test", "0000")
    printed, tables = _run(tmp_path, monkeypatch, apps_path=str(src), out_dir=str(tmp_path / "out"), workers=2,
                           time_limit_s=1.0)
    assert re.search(r"^removed API\s+1\s+0\s+0\s+1$", tables, re.M)
    assert re.search(r"^python 2 code\s+0\s+1\s+0\s+1$", tables, re.M)
    assert re.search(r"^several valid answers\s+0\s+0\s+1\s+1$", tables, re.M)
    assert re.search(r"^canonical solution wrapped in main\(\)\s+1\s+0\s+0\s+1$", tables, re.M)
    assert re.search(r"^folder\s+1\s+4$", tables, re.M)  # how the split was decided: test, train
    assert "real data: no truth to grade against" in printed and "def main():" in printed
    plus = {p.id: p for p in load_apps_plus(tmp_path / "out" / "apps_plus.jsonl")}
    assert set(plus) == {"apps/train/0004", "apps/test/0000"} and plus["apps/test/0000"].split == "test"


@pytest.mark.slow
def test_notebook_cleans_the_profiles_own_data_once(tmp_path, monkeypatch) -> None:
    """With no source and no knob set, notebook 01 builds the very APPS+ folder the training notebooks read
    (``prepare_apps_plus``), so notebook 02 and a rerun of 01 reuse it instead of cleaning again."""
    from stepcoder_lib.data.prepare import dataset_key, prepare_apps_plus
    from stepcoder_lib.settings.profiles import get_profile

    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))
    printed, _ = _run(tmp_path, monkeypatch, profile="smoke")
    folder = tmp_path / "artifacts" / "apps_plus" / dataset_key(get_profile("smoke"))
    built = (folder / "apps_plus.jsonl").stat().st_mtime_ns
    assert "defects caught: 100.0% of 8; clean kept: 100.0% of 40" in printed and "reusing" not in printed
    assert prepare_apps_plus(get_profile("smoke"), progress=False) == folder  # notebook 02's call: no rebuild
    printed, _ = _run(tmp_path, monkeypatch, profile="smoke")  # a rerun reads the folder back
    assert f"reusing {folder}" in printed and "defects caught: 100.0% of 8; clean kept: 100.0% of 40" in printed
    assert (folder / "apps_plus.jsonl").stat().st_mtime_ns == built
    assert sorted(p.name for p in (tmp_path / "artifacts" / "apps_plus").iterdir()) == [folder.name]
