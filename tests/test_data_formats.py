"""Unknown input fails loudly; APPS-derived forms are read or refused with one sentence; BOMs are fine."""

from __future__ import annotations

import json

import pytest
from data_helpers import codeparrot_row, mapcoder_row, write_apps_problem, write_rows

from stepcoder_lib.data import DataError, clean_apps, load_apps, read_apps


def test_empty_or_foreign_folders_are_errors_naming_what_was_expected(tmp_path, executor) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    (other / "images").mkdir(parents=True)
    (other / "notes.txt").write_text("not APPS")
    (other / "train").mkdir()  # a train/ folder with nothing APPS-like in it
    (other / "train" / "misc").mkdir()
    for folder in (empty, other):
        with pytest.raises(DataError, match=r"no APPS problems in .*expected APPS problem folders under train/"):
            read_apps(folder)
        with pytest.raises(DataError, match="no APPS problems"):
            clean_apps(folder, executor=executor, progress=False)
    assert "notes.txt" in str(pytest.raises(DataError, read_apps, other).value)
    # problem folders directly under a folder named otherwise: their split must be given
    write_apps_problem(tmp_path / "loose", ".", "0007")
    with pytest.raises(DataError, match="outside a train/ or test/ folder.*split='train' or split='test'"):
        read_apps(tmp_path / "loose")
    assert [r.id for r in read_apps(tmp_path / "loose", split="train")] == ["apps/train/0007"]
    # JSON lines with no readable row, or rows of no known form
    (tmp_path / "blank.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no readable row"):
        read_apps(tmp_path / "blank.jsonl", split="train")
    with pytest.raises(DataError, match=r"unrecognised rows \(fields: answer, prompt_text\); expected codeparrot/apps"):
        read_apps(write_rows(tmp_path / "x.jsonl", [{"prompt_text": "a", "answer": "b"}]), split="train")


def test_known_files_of_other_kinds_are_refused_in_one_sentence(tmp_path) -> None:
    cases = {
        "mbpp.jsonl": ({"task_id": 601, "text": "Add.", "code": "def f(): pass", "test_list": ["assert f() is None"]},
                       "load_mbpp"),
        "he.jsonl": ({"task_id": "HumanEval/0", "prompt": "def f():", "entry_point": "f", "canonical_solution": "",
                      "test": ""}, "load_humaneval"),
        "apps_plus.jsonl": ({"schema_version": 1, "id": "apps/train/0001", "tests": {}}, "load_apps_plus"),
    }
    for name, (row, loader) in cases.items():
        with pytest.raises(DataError) as info:
            read_apps(write_rows(tmp_path / name, [row]), split="train")
        msg = str(info.value)
        assert loader in msg and "\n" not in msg and msg.count(". ") == 0, msg


def test_mapcoder_selected150_rows(tmp_path, executor) -> None:
    path = write_rows(tmp_path / "selected150.jsonl", [mapcoder_row(3554, call=True), mapcoder_row(12)])
    with pytest.raises(DataError, match="split="):  # MapCoder's file does not say which APPS split it drew from
        read_apps(path)
    raws = {r.id: r for r in read_apps(path, split="train")}
    call, stdin = raws["apps/train/3554"], raws["apps/train/0012"]
    assert call.error[0] == "unsupported format" and "loses its type" in call.error[1] and "\n" not in call.error[1]
    assert stdin.error is None and stdin.input_output == {"inputs": ["1\n", "41\n"], "outputs": ["2\n", "42\n"]}
    assert stdin.question == "Read n, print n + 1." and stdin.solutions is None
    with pytest.warns(UserWarning, match="unsupported format"):
        (p,) = load_apps(path, split="train", errors="warn")
    assert p.tests.inputs == ("1\n", "41\n") and p.tests.outputs == ("2\n", "42\n") and p.solutions == ()
    # cleaning: MapCoder rows carry no solutions; each row is dropped with its true reason, none as "missing tests"
    res = clean_apps(path, split="train", executor=executor, progress=False)
    assert {d.id: (d.stage, d.reason) for d in res.dropped} == {
        "apps/train/3554": ("read", "unsupported format"), "apps/train/0012": ("require", "missing solutions")}
    assert res.report.reason_sections["unsupported format"]["by_difficulty"] == {"introductory": 1}


def test_a_utf8_byte_order_mark_is_not_content(tmp_path) -> None:
    path = write_rows(tmp_path / "rows.jsonl", [codeparrot_row(1), codeparrot_row(2)], bom=True)
    raws = read_apps(path, split="train")
    assert [(r.id, r.error) for r in raws] == [("apps/train/0001", None), ("apps/train/0002", None)]
    bom = b"\xef\xbb\xbf"
    write_apps_problem(tmp_path / "apps", "train", "0001", raw={
        "question.txt": bom + b"Read n, print n + 1.",
        "input_output.json": bom + json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}).encode(),
        "solutions.json": bom + json.dumps(["print(int(input()) + 1)"]).encode()})
    (p,) = load_apps(tmp_path / "apps")
    assert p.statement == "Read n, print n + 1." and p.tests.outputs == ("2\n",)
    assert p.solutions == ("print(int(input()) + 1)",)
