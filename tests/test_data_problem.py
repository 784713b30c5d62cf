"""The Problem record: JSON round trip, schema version, clear errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepcoder_lib.data import SCHEMA_VERSION, DataError, Problem, read_problems_jsonl, write_jsonl
from stepcoder_lib.executor.testcases import TestCases

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=8)
texts = st.text(max_size=40)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    fmt = draw(st.sampled_from(["stdin", "call", "assert"]))
    n = draw(st.integers(1, 3))
    if fmt == "stdin":
        tests = TestCases("stdin", tuple(draw(texts) for _ in range(n)), tuple(draw(texts) for _ in range(n)))
    elif fmt == "call":
        tests = TestCases("call", tuple(draw(st.lists(json_values, max_size=3)) for _ in range(n)),
                          tuple(draw(json_values) for _ in range(n)), fn_name="solve")
    else:
        tests = TestCases("assert", tuple(f"assert f({i}) == {i}" for i in range(n)), (), setup_code=draw(texts))
    sol = draw(texts)
    conds = tuple({"kind": "if", "start_char": i, "end_char": i + 3, "start_line": 1, "end_line": 1}
                  for i in range(draw(st.integers(0, 2))))
    return Problem(
        id=f"apps/train/{draw(st.integers(0, 9999)):04d}", source="apps",
        difficulty=draw(st.sampled_from(["introductory", "interview", "competition"])),
        statement=draw(texts), tests=tests, starter_code=draw(texts), solutions=(sol,), canonical_solution=sol,
        conditionals=conds, split=draw(st.sampled_from(["", "train", "validation", "test"])),
        metadata={"url": draw(texts), "canonical_index": draw(st.integers(0, 5))},
    )


@settings(max_examples=60, deadline=None)
@given(problems())
def test_round_trip_through_json(p: Problem) -> None:
    line = json.dumps(p.to_dict(), sort_keys=True)
    back = Problem.from_dict(json.loads(line))
    assert back == p
    assert back.to_dict() == p.to_dict()
    assert json.loads(line)["schema_version"] == SCHEMA_VERSION


def test_jsonl_file_round_trip_is_byte_stable(tmp_path) -> None:
    p = Problem("mbpp/2", "mbpp", "mbpp", "Write f.", TestCases("assert", ("assert f() == 1",)),
                solutions=("def f():\n    return 1\n",), canonical_solution="def f():\n    return 1\n",
                metadata={"z": 1, "a": "é"})
    a = write_jsonl(tmp_path / "a.jsonl", [p, p.replace(id="mbpp/3")])
    back = read_problems_jsonl(a)
    assert [q.id for q in back] == ["mbpp/2", "mbpp/3"] and back[0] == p
    b = write_jsonl(tmp_path / "b.jsonl", back)
    assert a.read_bytes() == b.read_bytes()
    assert "é" in a.read_text(encoding="utf-8")  # UTF-8 kept, not \u-escaped
    assert p.format == "assert"


def test_from_dict_names_the_problem_and_field() -> None:
    good = Problem("x/1", "x", "d", "s", TestCases("stdin", ("1",), ("1",))).to_dict()
    bad = dict(good)
    del bad["statement"]
    with pytest.raises(DataError, match=r"problem x/1: field 'statement' is missing"):
        Problem.from_dict(bad)
    newer = dict(good, schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(DataError, match="schema_version"):
        Problem.from_dict(newer)
    with pytest.raises(DataError, match="field 'tests'"):
        Problem.from_dict(dict(good, tests=[1, 2]))


def test_bad_jsonl_line_is_named(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    good = Problem("x/1", "x", "d", "s", TestCases("stdin", ("1",), ("1",))).to_dict()
    path.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"p\.jsonl:2: invalid JSON"):
        read_problems_jsonl(path)


def test_conditional_statements_view() -> None:
    from stepcoder_lib.data.conditionals import ConditionalStatement

    c = {"kind": "if", "start_char": 0, "end_char": 10, "start_line": 1, "end_line": 2}
    p = Problem("x/1", "x", "d", "s", TestCases("stdin", ("1",), ("1",)), conditionals=(c,))
    assert p.conditional_statements() == [ConditionalStatement("if", 0, 10, 1, 2)]
