"""The results table's columns and the names of its paired differences' baselines.

Shared by the table (``results.table``) and its figures (``results.figures``), which draws the
table: here, so that neither has to import the other's module for them.
"""

from __future__ import annotations

APPS_COLUMNS: tuple[str, ...] = ("introductory", "interview", "competition", "overall")
ZERO_SHOT_COLUMNS: tuple[str, ...] = ("HumanEval", "MBPP")
COLUMNS: tuple[str, ...] = APPS_COLUMNS + ZERO_SHOT_COLUMNS

#: What a paired difference's baseline is called in the CSV's column names.
BASELINE_KIND = {"sft": "sft"}


def baseline_kind(baseline: str) -> str:
    """``vanilla`` for any algorithm's vanilla RL row, ``sft`` for SFT (the CSV's ``<column>_vs_<kind>``)."""
    return BASELINE_KIND.get(baseline, baseline.partition("-")[2] or baseline)
