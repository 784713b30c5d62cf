"""Data: one ``Problem`` record for APPS, APPS+, MBPP and HumanEval; the APPS -> APPS+ cleaning; the splits.

May import ``executor`` (cleaning runs the candidate solutions) and ``settings``; never the models,
the method, training or results.

* ``conditionals`` where a program's conditional statements are (the facts CCCS cuts at).
* ``prepare``   the profile's splits, built once and keyed (``load_splits``).
* ``validate_real`` the executor on real known-good solutions (``make validate-real``).

* ``problem``   the ``Problem`` record, its JSON-lines form (``schema_version``), errors.
* ``apps``      APPS (folder layout, JSON lines of the hub's or MapCoder's rows, ``datasets``) and APPS+
                loaders; the APPS split always comes from the source.
* ``mbpp``, ``humaneval``  the zero-shot evaluation sets.
* ``loaders``   hub access that fails fast with one sentence; where real data lives.
* ``cleaning``  the paper's cleaning, one function per stage (run by notebook 01).
* ``report``    counts per stage / reason / difficulty, Markdown, plots.
* ``demo``      a handful of problems to show CCCS and FGO on.

The synthetic (offline) benchmark is ``data.synthetic``.
"""

from stepcoder_lib.data.apps import (
    APPS_SPLITS,
    RawApps,
    load_apps,
    load_apps_plus,
    read_apps,
    standardise_solution,
    standardise_tests,
)
from stepcoder_lib.data.cleaning import (
    NEW_REASONS,
    REASONS,
    STAGES,
    CleaningResult,
    Dropped,
    assign_splits,
    classify_failure,
    clean_apps,
    extract_starter_code,
    grade_against_truth,
    run_candidates,
    stage_answers,
    stage_execute,
    stage_extract,
    stage_read,
    stage_require,
    stage_standardise,
    statement_allows_several_answers,
)
from stepcoder_lib.data.conditionals import extract_conditionals
from stepcoder_lib.data.humaneval import load_humaneval
from stepcoder_lib.data.loaders import hub_reachable, realdata_dir, repo_root
from stepcoder_lib.data.mbpp import load_mbpp
from stepcoder_lib.data.problem import (
    SCHEMA_VERSION,
    SPLITS,
    DataError,
    DataUnavailable,
    Problem,
    read_problems_jsonl,
    write_jsonl,
)
from stepcoder_lib.data.report import CleaningReport, make_plots, write_report

__all__ = [
    "APPS_SPLITS", "NEW_REASONS", "REASONS", "SCHEMA_VERSION", "SPLITS", "STAGES", "CleaningReport", "CleaningResult",
    "DataError", "DataUnavailable", "Dropped", "Problem", "RawApps", "assign_splits", "classify_failure", "clean_apps",
    "extract_conditionals", "extract_starter_code", "grade_against_truth", "hub_reachable", "load_apps",
    "load_apps_plus", "load_humaneval", "load_mbpp", "make_plots", "read_apps", "read_problems_jsonl",
    "realdata_dir", "repo_root", "run_candidates", "stage_answers", "stage_execute", "stage_extract", "stage_read",
    "stage_require", "stage_standardise", "standardise_solution", "standardise_tests",
    "statement_allows_several_answers", "write_jsonl", "write_report",
]
