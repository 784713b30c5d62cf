"""One record for every task the project trains or evaluates on: the ``Problem``.

APPS, APPS+, MBPP, HumanEval and the generated benchmark all load into it, so the executor,
the curriculum and the trainers see one shape. It round-trips through JSON lines (the APPS+
files notebook 01 writes), each line carrying ``schema_version``.

Problem ids (unique across sources, stable across runs, readable in reports):

* ``apps/<split>/<folder>``: APPS, ``<split>`` being APPS's own split (``train`` or ``test``) as
  the source states it (folder, hub split, a row's ``split`` field or the caller's ``split=``;
  never a file name), e.g. ``apps/train/0001`` (the folder name as is); JSON lines / hub rows
  use the row's ``problem_id`` zero-padded to 4 digits, which is the folder name of the same
  problem. The hub numbers each split from 0, so the split in the id keeps them apart.
* ``bench/<split>/<folder>``: the generated benchmark (same layout, source ``bench``).
* ``mbpp/<task_id>`` (``mbpp.jsonl``) and ``mbpp-sanitized/<task_id>`` (``sanitized-mbpp.json``).
* ``humaneval/<task_id>``, e.g. ``humaneval/HumanEval/0``.
* APPS+ files written by the paper's authors keep their own id under ``apps_plus/<id>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stepcoder_lib.data.conditionals import ConditionalStatement
from stepcoder_lib.executor.testcases import TestCases

#: Version of the JSON form of ``Problem``; bump on an incompatible change.
SCHEMA_VERSION = 1

#: Splits a cleaned problem can belong to ("" = not assigned yet).
SPLITS: tuple[str, ...] = ("train", "validation", "test")


class DataError(ValueError):
    """Bad input data; the message names the item (problem id, file) and the field."""


class DataUnavailable(RuntimeError):
    """A data source could not be reached; the message says what was tried and how to supply it locally."""


@dataclass(frozen=True)
class Problem:
    """A programming task with its tests and (when known) its canonical solution.

    ``statement`` is the natural-language task (APPS question, MBPP text, HumanEval prompt);
    ``starter_code`` is what a model is given before it writes code (for cleaned APPS+ call-based
    problems: the beginning of the canonical solution up to and including the signature, so
    ``canonical_solution.startswith(starter_code)``). ``solutions`` are all known candidate
    solutions in source order; ``canonical_solution`` is the one that passed every test (None when
    not judged or none passed). ``conditionals`` are the canonical solution's conditional statements
    as dicts (``ConditionalStatement.to_dict()``: kind, start_char, end_char, start_line, end_line),
    the CCCS input. ``metadata`` holds provenance (url, original ids, cleaning decisions).
    """

    id: str
    source: str
    difficulty: str
    statement: str
    tests: TestCases
    starter_code: str = ""
    solutions: tuple[str, ...] = ()
    canonical_solution: str | None = None
    conditionals: tuple[dict[str, Any], ...] = ()
    split: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:  # metadata is a dict; ids identify problems (equal problems share an id)
        return hash((self.id, self.source))

    @property
    def format(self) -> str:
        """Test format: ``stdin``, ``call`` or ``assert``."""
        return self.tests.format

    @property
    def fn_name(self) -> str | None:
        return self.tests.fn_name

    def replace(self, **changes: Any) -> Problem:
        """A copy with some fields changed (the record is frozen)."""
        return replace(self, **changes)

    def conditional_statements(self) -> list[Any]:
        """``conditionals`` as ``stepcoder_lib.data.conditionals.ConditionalStatement`` objects."""
        return [ConditionalStatement.from_dict(d) for d in self.conditionals]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (one APPS+ line); ``from_dict`` inverts it exactly."""
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "source": self.source,
            "difficulty": self.difficulty,
            "split": self.split,
            "statement": self.statement,
            "starter_code": self.starter_code,
            "solutions": list(self.solutions),
            "canonical_solution": self.canonical_solution,
            "conditionals": [dict(c) for c in self.conditionals],
            "tests": self.tests.to_dict(),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Problem:
        """Inverse of ``to_dict``; raises DataError naming the id and field on bad input."""
        pid = d.get("id", "<no id>") if isinstance(d, Mapping) else "<not a dict>"
        if not isinstance(d, Mapping):
            raise DataError(f"problem record: expected a JSON object, got {type(d).__name__}")
        version = d.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise DataError(
                f"problem {pid}: field 'schema_version' is {version!r}; this code reads up to {SCHEMA_VERSION}"
            )
        for name in ("id", "source", "statement", "tests"):
            if name not in d:
                raise DataError(f"problem {pid}: field '{name}' is missing")
        tests = d["tests"]
        if not isinstance(tests, Mapping) or "format" not in tests:
            raise DataError(f"problem {pid}: field 'tests' must be an object with a 'format'")
        return cls(
            id=str(d["id"]),
            source=str(d["source"]),
            difficulty=str(d.get("difficulty") or ""),
            statement=str(d["statement"]),
            tests=TestCases.from_dict(dict(tests)),
            starter_code=str(d.get("starter_code") or ""),
            solutions=tuple(d.get("solutions") or ()),
            canonical_solution=d.get("canonical_solution"),
            conditionals=tuple(dict(c) for c in (d.get("conditionals") or ())),
            split=str(d.get("split") or ""),
            metadata=dict(d.get("metadata") or {}),
        )


def dumps_line(record: Mapping[str, Any]) -> str:
    """One canonical JSON line: sorted keys, UTF-8 kept, so reruns are byte-identical."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any] | Problem]) -> Path:
    """Write records (Problems or dicts) as canonical JSON lines; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(dumps_line(rec.to_dict() if isinstance(rec, Problem) else rec))
    return path


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for each non-blank line; a bad line raises DataError naming it."""
    path = Path(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield lineno, json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{lineno}: unreadable encoding ({exc.reason})") from None
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None


def read_problems_jsonl(path: str | Path) -> list[Problem]:
    """Problems written by ``write_jsonl`` (APPS+ files of this project)."""
    out = []
    for lineno, obj in iter_jsonl(path):
        try:
            out.append(Problem.from_dict(obj))
        except (DataError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
    return out
