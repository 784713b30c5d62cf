"""Loaders: APPS (folders, JSON lines, datasets, hub), APPS+, MBPP, HumanEval -> Problem records."""

from __future__ import annotations

import json
import time

import pytest
from data_helpers import codeparrot_row, write_apps_problem

from stepcoder_lib.data import (
    DataError,
    DataUnavailable,
    Problem,
    load_apps,
    load_apps_plus,
    load_humaneval,
    load_mbpp,
    read_apps,
    standardise_tests,
)
from stepcoder_lib.data import loaders as loaders_mod


# ----------------------------------------------------------------------------- APPS folders
def test_apps_folder_layout_is_read_and_standardised(tmp_path) -> None:
    write_apps_problem(tmp_path, "train", "0007",
                       input_output={"inputs": [["3", "1 2 3"], "2\r\n5 5\r\n"], "outputs": [["6"], "10\r\n"]})
    write_apps_problem(tmp_path, "test", "0003", solutions=None, difficulty="interview")
    write_apps_problem(tmp_path, "train", "0009", difficulty="competition",
                       input_output={"fn_name": "add", "inputs": [[1, 2]], "outputs": [[3]]},
                       solutions=["def add(a, b):\r\n    return a + b\r\n"], starter_code="def add(a, b):\n")
    problems = {p.id: p for p in load_apps(tmp_path)}
    assert sorted(problems) == ["apps/test/0003", "apps/train/0007", "apps/train/0009"]
    p = problems["apps/train/0007"]
    assert p.tests.format == "stdin" and p.format == "stdin"
    assert p.tests.inputs == ("3\n1 2 3\n", "2\n5 5\n")  # lists of lines joined, \r\n -> \n
    assert p.tests.outputs == ("6\n", "10\n")
    assert p.metadata["standardised"] == {"joined_line_lists": 2, "newlines_normalised": 2}
    assert p.split == "train" and p.difficulty == "introductory" and p.metadata["url"].endswith("0007")
    assert p.solutions == ("print(int(input()) + 1)\n",) and p.canonical_solution is None
    q = problems["apps/test/0003"]
    assert q.solutions == () and q.split == "test" and q.difficulty == "interview"
    c = problems["apps/train/0009"]
    assert c.format == "call" and c.fn_name == "add" and c.tests.inputs == ([1, 2],) and c.tests.outputs == ([3],)
    assert c.solutions == ("def add(a, b):\n    return a + b\n",) and c.starter_code == "def add(a, b):\n"


def test_one_split_folder_and_split_filter(tmp_path) -> None:
    write_apps_problem(tmp_path, "train", "0001")
    write_apps_problem(tmp_path, "test", "0002")
    assert [p.id for p in load_apps(tmp_path / "train")] == ["apps/train/0001"]
    assert [p.id for p in load_apps(tmp_path, splits=["test"])] == ["apps/test/0002"]


def test_bad_problem_is_reported_after_reading_all(tmp_path) -> None:
    write_apps_problem(tmp_path, "train", "0001")
    write_apps_problem(tmp_path, "train", "0002", raw={"input_output.json": b"{oops"})
    write_apps_problem(tmp_path, "train", "0003", raw={"question.txt": b"\xff\xfe\x00bad"})
    write_apps_problem(tmp_path, "train", "0004")
    with pytest.raises(DataError) as info:
        load_apps(tmp_path)
    msg = str(info.value)
    assert msg.startswith("2 APPS problem(s) could not be loaded")
    assert "apps/train/0002: corrupt file: input_output.json: invalid JSON" in msg
    assert "apps/train/0003: unreadable encoding: question.txt" in msg
    with pytest.warns(UserWarning, match="2 APPS problem"):
        ok = load_apps(tmp_path, errors="warn")
    assert [p.id for p in ok] == ["apps/train/0001", "apps/train/0004"]
    raws = {r.id: r for r in read_apps(tmp_path)}
    assert raws["apps/train/0002"].error[0] == "corrupt file" and raws["apps/train/0001"].error is None


def test_standardise_tests_errors_name_problem_and_field() -> None:
    with pytest.raises(DataError, match=r"problem p/1: field 'outputs': 1 outputs for 2 inputs"):
        standardise_tests({"inputs": ["1", "2"], "outputs": ["1"]}, "p/1")
    with pytest.raises(DataError, match=r"field 'inputs\[0\]': call-based inputs must be argument lists"):
        standardise_tests({"fn_name": "f", "inputs": [3], "outputs": [3]}, "p/1")
    with pytest.raises(DataError, match=r"field 'fn_name'"):
        standardise_tests({"fn_name": "not a name", "inputs": [[3]], "outputs": [3]}, "p/1")
    with pytest.raises(DataError, match=r"field 'inputs\[1\]': stdin tests need text"):
        standardise_tests({"inputs": ["1", {"a": 1}], "outputs": ["1", "2"]}, "p/1")


def test_apps_jsonl_rows(tmp_path) -> None:
    lines = [json.dumps(codeparrot_row(3)), "{broken", json.dumps(codeparrot_row(12, solutions="", input_output="")),
             json.dumps(codeparrot_row(13, input_output="{nope"))]
    (tmp_path / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    raws = {r.id: r for r in read_apps(tmp_path / "test.jsonl", split="test")}
    assert set(raws) == {"apps/test/0003", "apps/test/line00002", "apps/test/0012", "apps/test/0013"}
    assert raws["apps/test/0003"].solutions == ["print(int(input()) + 1)"] and raws["apps/test/0003"].error is None
    assert raws["apps/test/line00002"].error[0] == "corrupt file"
    assert "test.jsonl:2" in raws["apps/test/line00002"].error[1]
    assert raws["apps/test/0012"].solutions is None and raws["apps/test/0012"].input_output is None
    assert raws["apps/test/0013"].error == ("corrupt file", "test.jsonl:4: field 'input_output': invalid JSON "
                                                            "(Expecting property name enclosed in double quotes)")
    # a folder laid out as the codeparrot/apps repository (train.jsonl / test.jsonl): the hub's split
    assert {r.id for r in read_apps(tmp_path)} == set(raws)
    assert {r.split_source for r in read_apps(tmp_path)} == {"hub split"}


def test_apps_from_datasets_objects(tmp_path) -> None:
    import datasets

    ds = datasets.DatasetDict({"train": datasets.Dataset.from_list([codeparrot_row(1), codeparrot_row(2)])})
    problems = load_apps(ds)
    assert [p.id for p in problems] == ["apps/train/0001", "apps/train/0002"]
    assert problems[0].tests.outputs == ("2\n",)
    ds.save_to_disk(str(tmp_path / "saved"))
    assert [p.id for p in load_apps(tmp_path / "saved")] == ["apps/train/0001", "apps/train/0002"]
    # the datasets json builder reading a local codeparrot-style file
    (tmp_path / "train.jsonl").write_text(json.dumps(codeparrot_row(5)) + "\n")
    local = datasets.load_dataset("json", data_files={"train": str(tmp_path / "train.jsonl")})
    assert [p.id for p in load_apps(local)] == ["apps/train/0005"]


# ----------------------------------------------------------------------------- unreachable sources
def _one_sentence(msg: str) -> None:
    assert "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    assert "tried" in msg


def test_missing_local_paths_fail_with_one_sentence(tmp_path) -> None:
    for call, hint in [(lambda: load_apps(tmp_path / "nope"), "apps_path="),
                       (lambda: load_mbpp(tmp_path / "nope.jsonl"), "path=/path/to/mbpp.jsonl"),
                       (lambda: load_humaneval(tmp_path / "he.jsonl.gz"), "HumanEval.jsonl.gz"),
                       (lambda: load_apps_plus(tmp_path), "notebook 01")]:
        with pytest.raises(DataUnavailable) as info:
            call()
        _one_sentence(str(info.value))
        assert str(tmp_path) in str(info.value) and hint in str(info.value)


def test_unreachable_hub_fails_fast_with_one_sentence(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what an unreachable hub looks like, on any machine
    loaders_mod._PROBE.clear()
    for call, hint in [(lambda: load_mbpp(hub_id="stepcoder-tests/no-such-mbpp"), "path=/path/to/mbpp.jsonl"),
                       (lambda: read_apps("stepcoder-tests/no-such-apps"), "apps_path=/path/to/APPS")]:
        t0 = time.perf_counter()
        with pytest.raises(DataUnavailable) as info:
            call()
        assert time.perf_counter() - t0 < 10
        msg = str(info.value)
        _one_sentence(msg)
        assert "Hugging Face hub" in msg and "no-such" in msg and hint in msg


def test_hub_probe_detects_an_unreachable_endpoint(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    loaders_mod._PROBE.clear()
    t0 = time.perf_counter()
    assert loaders_mod.hub_reachable(timeout_s=2.0) is False
    assert time.perf_counter() - t0 < 5
    loaders_mod._PROBE.clear()


# ----------------------------------------------------------------------------- APPS+
def test_apps_plus_paper_rows_and_own_format(tmp_path) -> None:
    rows = [{"problem_id": 17, "description": "Return x + 1.",
             "canonical_solution": "def f(x):\n    if x:\n        return x + 1\n    return 1\n",
             "fn_name": "f", "inputs": [[1], [0]], "outputs": [2, 1], "starter_code": "def f(x):\n",
             "difficulty": "introductory"},
            {"question": "Echo.", "solutions": json.dumps(["print(input())"]),
             "input_output": json.dumps({"inputs": ["a\n"], "outputs": ["a\n"]}), "difficulty": "interview"}]
    path = tmp_path / "apps_plus_paper.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    probs = load_apps_plus(path)
    assert [p.id for p in probs] == ["apps_plus/17", "apps_plus/1"]
    a, b = probs
    assert a.format == "call" and a.fn_name == "f" and a.tests.outputs == (2, 1) and a.starter_code == "def f(x):\n"
    assert a.canonical_solution.startswith(a.starter_code)
    assert [c["kind"] for c in a.conditionals] == ["if"] and a.metadata["conditionals_recomputed"] is True
    assert b.format == "stdin" and b.canonical_solution == "print(input())" and b.statement == "Echo."
    # this project's APPS+ lines (schema_version) round-trip through load_apps_plus, split filter included
    from stepcoder_lib.data import write_jsonl

    write_jsonl(tmp_path / "apps_plus.jsonl", [a.replace(split="train"), b.replace(split="test")])
    back = load_apps_plus(tmp_path)  # a folder holding apps_plus.jsonl
    assert back == [a.replace(split="train"), b.replace(split="test")]
    assert [p.id for p in load_apps_plus(tmp_path, split="test")] == ["apps_plus/1"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"description": "no solution", "inputs": [], "outputs": []}]))
    with pytest.raises(DataError, match=r"apps_plus/0: field 'canonical_solution' is missing"):
        load_apps_plus(bad)


# ----------------------------------------------------------------------------- MBPP / HumanEval
def test_mbpp_rows(tmp_path) -> None:
    row = {"task_id": 601, "text": "Add.", "code": "def add(a, b):\r\n\treturn a + b", "test_setup_code": "import math",
           "test_list": ["assert add(1, 2) == 3"], "challenge_test_list": ["assert add(0, 0) == 0"]}
    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "task_id": 11, "code": ""}) + "\n")
    with pytest.raises(DataError, match=r"MBPP task mbpp/11: field 'code' is missing"):
        load_mbpp(path)
    with pytest.warns(UserWarning):
        (p,) = load_mbpp(path, include_challenge=True, errors="warn")
    assert p.id == "mbpp/601" and p.format == "assert" and p.tests.setup_code == "import math"
    assert p.tests.inputs == ("assert add(1, 2) == 3", "assert add(0, 0) == 0")
    assert p.canonical_solution == "def add(a, b):\n\treturn a + b" and p.metadata["mbpp_split"] == "train"


@pytest.mark.realdata
def test_realdata_mbpp_and_humaneval_load(realdata) -> None:
    full = load_mbpp(realdata / "mbpp" / "mbpp.jsonl")
    san = load_mbpp(realdata / "mbpp" / "sanitized-mbpp.json")
    assert len(full) == 974 and len(san) == 427
    assert full[0].id == "mbpp/1" and san[0].id == "mbpp-sanitized/2"
    assert {p.metadata["mbpp_split"] for p in full} == {"prompt", "test", "validation", "train"}
    assert len(load_mbpp(realdata / "mbpp", split="test")) == 500
    assert all(p.format == "assert" and len(p.tests) >= 3 and "\r" not in p.canonical_solution for p in full)
    he = load_humaneval()
    assert len(he) == 164 and he[0].id == "humaneval/HumanEval/0" and he[-1].id == "humaneval/HumanEval/163"
    assert all(p.canonical_solution.startswith(p.starter_code) and p.tests.inputs[0].endswith(f"check({p.fn_name})\n")
               for p in he)


@pytest.mark.realdata
def test_realdata_apps_loader_reads_every_problem(realdata) -> None:
    train = load_apps(realdata / "apps_train5")
    test = load_apps(realdata / "apps_test10")
    assert [p.id for p in train] == ["apps/train/0001", "apps/train/0111", "apps/train/2287",
                                     "apps/train/2404", "apps/train/4184"]
    assert len(test) == 10 and all(p.solutions == () and len(p.tests) >= 2 for p in test)
    by = {p.id: p for p in train}
    assert by["apps/train/2404"].format == "call" and by["apps/train/2404"].fn_name == "findKthPositive"
    assert by["apps/train/4184"].tests.outputs[0] == [False]  # stored wrapped; cleaning decides
    assert {p.difficulty for p in train} == {"interview", "competition", "introductory"}
    assert all(isinstance(p, Problem) and p.statement for p in train + test)
