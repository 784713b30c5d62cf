"""The files a verl run reads: one parquet row per training problem, the problems, the task prompts.

verl's ``RLHFDataset`` wants a parquet file with a chat-style ``prompt`` column; the StepCoder agent
loop ignores that text (it continues the staged prompt's token ids) but verl's dataloader, which
samples the step's problems, needs it. ``problem_id`` rides along as a column, so every row reaches
the manager and the agent loop with its id. The problems (tests, canonical solution) and the task
prompts are written beside it for the manager (curriculum, staging) and the agent loop (executor).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stepcoder_lib.data.problem import Problem, read_problems_jsonl, write_jsonl

DATA_SOURCE = "stepcoder"


def write_verl_data(problems: Sequence[Problem], task_prompts: Mapping[str, str], data_dir: str | Path) -> Path:
    """``train.parquet``, ``problems.jsonl`` and ``task_prompts.json`` in ``data_dir`` (created); returns it."""
    import pandas as pd  # lazy: importing this module needs no pandas

    out = Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [p.id for p in problems if p.id not in task_prompts]
    if missing:
        raise ValueError(f"task_prompts has no prompt for problem(s) {missing[:5]}")
    write_jsonl(out / "problems.jsonl", problems)
    (out / "task_prompts.json").write_text(json.dumps({p.id: task_prompts[p.id] for p in problems}, indent=0,
                                                      sort_keys=True) + "\n", encoding="utf-8")
    rows = [{"data_source": DATA_SOURCE, "prompt": [{"role": "user", "content": task_prompts[p.id]}],
             "problem_id": p.id, "difficulty": p.difficulty or "",
             "extra_info": {"index": i, "problem_id": p.id}} for i, p in enumerate(problems)]
    pd.DataFrame(rows).to_parquet(out / "train.parquet", index=False)
    return out


def read_problems(path: str | Path) -> dict[str, Any]:
    """``problems.jsonl`` as {id: Problem}."""
    return {p.id: p for p in read_problems_jsonl(path)}


def read_task_prompts(path: str | Path) -> dict[str, str]:
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


__all__ = ["DATA_SOURCE", "read_problems", "read_task_prompts", "write_verl_data"]
