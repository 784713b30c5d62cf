"""Hand-made APPS data for the data tests: folders (the original release's layout), hub rows, MapCoder rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_ABSENT = object()


def write_apps_problem(root: Path, split: str, folder: str, *, question: Any = "Read n, print n + 1.",
                       solutions: Any = ("print(int(input()) + 1)\n",), input_output: Any = _ABSENT,
                       difficulty: str = "introductory", starter_code: str | None = None,
                       raw: dict[str, bytes] | None = None) -> Path:
    """One problem folder; ``None`` leaves a file out, ``raw`` writes files byte for byte."""
    d = root / split / folder
    d.mkdir(parents=True, exist_ok=True)
    if input_output is _ABSENT:
        input_output = {"inputs": ["1\n", "41\n"], "outputs": ["2\n", "42\n"]}
    if question is not None:
        (d / "question.txt").write_text(question, encoding="utf-8")
    if solutions is not None:
        (d / "solutions.json").write_text(json.dumps(list(solutions)), encoding="utf-8")
    if input_output is not None:
        (d / "input_output.json").write_text(json.dumps(input_output), encoding="utf-8")
    (d / "metadata.json").write_text(json.dumps({"difficulty": difficulty, "url": f"https://example.org/{folder}"}))
    if starter_code is not None:
        (d / "starter_code.py").write_text(starter_code, encoding="utf-8")
    for name, data in (raw or {}).items():
        (d / name).write_bytes(data)
    return d


#: Problems with one known defect each: folder -> (expected stage, expected reason, kwargs).
DEFECTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "0100": ("read", "corrupt file", {"raw": {"solutions.json": b'["print(1)", '}}),
    "0101": ("read", "unreadable encoding", {"raw": {"question.txt": b"caf\xe9 \xff\xfe problem"}}),
    "0102": ("require", "missing tests", {"input_output": None}),
    "0103": ("require", "missing outputs", {"input_output": {"inputs": ["1\n"], "outputs": []}}),
    "0104": ("require", "missing solutions", {"solutions": None}),
    "0105": ("require", "missing solutions", {"solutions": []}),
    "0106": ("require", "missing outputs", {"input_output": {"inputs": ["1\n", "2\n"], "outputs": ["2\n"]}}),
    "0113": ("standardise", "malformed tests",
             {"input_output": {"inputs": ["1\n", {"x": 2}], "outputs": ["2\n", "3\n"]}}),
    "0114": ("require", "missing inputs", {"input_output": {"inputs": [], "outputs": ["2\n"]}}),
    "0107": ("execute", "syntax error", {"solutions": ["print(int(input()) + 1\n"]}),
    "0108": ("execute", "missing library", {"solutions": ["import no_such_module_xyz\nprint(int(input()) + 1)\n"]}),
    "0109": ("execute", "runtime error", {"solutions": ["print([][int(input())])\n"]}),
    "0110": ("execute", "wrong output", {"solutions": ["print(int(input()) + 2)\n"]}),
    "0111": ("execute", "timeout", {"solutions": ["while True:\n    pass\n"]}),
    "0112": ("standardise", "malformed tests",
             {"input_output": {"fn_name": "f", "inputs": [5], "outputs": [[6]]},
              "solutions": ["def f(x):\n    return x + 1\n"]}),
}


def codeparrot_row(pid: int, **over: Any) -> dict[str, Any]:
    """One row as the hub's codeparrot/apps ``train.jsonl``/``test.jsonl`` hold it (JSON strings inside)."""
    row = {"problem_id": pid, "question": "Print n + 1.", "difficulty": "interview", "url": f"https://example.org/{pid}",
           "starter_code": "", "solutions": json.dumps(["print(int(input()) + 1)"]),
           "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]})}
    row.update(over)
    return row


def mapcoder_row(pid: int, *, call: bool = False, **over: Any) -> dict[str, Any]:
    """One row in the form of MapCoder's ``data/APPS/selected150.jsonl`` (its converter's fields; no solutions)."""
    if call:  # the converter joins str(argument) lines and keeps the expected value in a list
        row = {"name": str(pid), "description": "Return the sum.", "difficulty": "introductory", "id": pid,
               "sample_io": [{"input": "1\n2", "output": [3]}], "test_list": [{"input": "1\n2", "output": [3]}],
               "starter_code": "\ndef add(a, b):\n\t"}
    else:
        row = {"name": str(pid), "description": "Read n, print n + 1.", "difficulty": "interview", "id": pid,
               "sample_io": [{"input": "1\n", "output": ["2\n"]}],
               "test_list": [{"input": "1\n", "output": ["2\n"]}, {"input": "41\n", "output": ["42\n"]}],
               "starter_code": ""}
    row.update(over)
    return row


def write_rows(path: Path, rows: list[Any], *, bom: bool = False) -> Path:
    """JSON lines, one row per line (``bom`` prefixes a UTF-8 byte order mark, as some editors save)."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def first_stdin_composition(tier: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The first generated stdin composition of ``tier`` (seeded by the tier) and its input names."""
    import random

    from stepcoder_lib.data.synthetic.compose import Reject, sample_composition, source_names

    rng = random.Random(f"wording/{tier}")
    while True:
        try:
            comp = sample_composition(rng, tier, "stdin")
        except Reject:
            continue
        return comp, source_names(comp["src"]["kind"], "stdin", rng)
