"""The APPS split comes from the source, never from a file name, and the test split never leaks."""

from __future__ import annotations

import json

import pytest
from data_helpers import codeparrot_row, write_apps_problem, write_rows

from stepcoder_lib.data import DataError, assign_splits, clean_apps, load_apps, read_apps


def test_ids_and_splits_come_from_folder_field_hub_or_argument(tmp_path) -> None:
    write_apps_problem(tmp_path / "folders", "test", "0049")
    (raw,) = read_apps(tmp_path / "folders")
    assert (raw.id, raw.source_split, raw.split_source) == ("apps/test/0049", "test", "folder")
    # a JSON lines file whose rows say their split: the hub numbers each split from 0, ids must not collide
    rows = [codeparrot_row(0, split="train"), codeparrot_row(0, split="test", question="Another problem.")]
    raws = read_apps(write_rows(tmp_path / "train_and_test.jsonl", rows))
    assert [(r.id, r.split_source) for r in raws] == [("apps/train/0000", "split field"),
                                                      ("apps/test/0000", "split field")]
    # the file's name says nothing: "mini_val.jsonl" / "train.jsonl" without a split field need split=
    for name in ("mini_val.jsonl", "train.jsonl"):
        path = write_rows(tmp_path / name, [codeparrot_row(0)])
        with pytest.raises(DataError, match=r"split='train' or split='test'") as info:
            read_apps(path)
        assert name in str(info.value)
        (raw,) = read_apps(path, split="test")
        assert (raw.id, raw.source_split, raw.split_source) == ("apps/test/0000", "test", "split argument")
    # a statement that contradicts the argument (or is not an APPS split) is an error, not a guess
    with pytest.raises(DataError, match="stated twice and differently"):
        read_apps(tmp_path / "train_and_test.jsonl", split="train")
    with pytest.raises(DataError, match="'validation'"):
        read_apps(write_rows(tmp_path / "odd.jsonl", [codeparrot_row(1, split="validation")]))
    with pytest.raises(DataError, match=r"folder: 'test', split argument: 'train'"):
        read_apps(tmp_path / "folders", split="train")


def test_hub_datasets_keep_their_split_and_difficulty_named_splits_need_one(tmp_path) -> None:
    import datasets

    both = datasets.DatasetDict({"train": datasets.Dataset.from_list([codeparrot_row(0), codeparrot_row(1)]),
                                 "test": datasets.Dataset.from_list([codeparrot_row(0), codeparrot_row(1)])})
    ids = [(p.id, p.metadata["split_source"]) for p in load_apps(both)]
    assert ids == [("apps/train/0000", "hub split"), ("apps/train/0001", "hub split"),
                   ("apps/test/0000", "hub split"), ("apps/test/0001", "hub split")]
    one = datasets.Dataset.from_list([codeparrot_row(7)], split=datasets.Split.TEST)
    assert [p.id for p in load_apps(one)] == ["apps/test/0007"]
    # CodeChain's data/mini_val: a save_to_disk DatasetDict whose splits are difficulties
    by_level = datasets.DatasetDict({lvl: datasets.Dataset.from_list([codeparrot_row(i, difficulty=lvl)])
                                     for i, lvl in enumerate(("introductory", "interview", "competition"))})
    by_level.save_to_disk(str(tmp_path / "mini_val"))
    with pytest.raises(DataError, match=r"named 'introductory', not train or test.*split='train' or split='test'"):
        load_apps(tmp_path / "mini_val")
    got = load_apps(tmp_path / "mini_val", split="test")
    assert [(p.id, p.difficulty) for p in got] == [("apps/test/0000", "introductory"), ("apps/test/0001", "interview"),
                                                   ("apps/test/0002", "competition")]


def test_a_file_mixing_both_splits_without_a_split_field_is_refused(tmp_path) -> None:
    rows = [codeparrot_row(0), codeparrot_row(0, question="A test-split problem numbered 0 too.")]
    with pytest.raises(DataError, match=r":2: id apps/train/0000 was already used by line 1.*'split' field"):
        read_apps(write_rows(tmp_path / "all.jsonl", rows), split="train")


@pytest.mark.parametrize("respect_source_split", [True, False])
def test_source_test_problems_never_enter_training_or_validation(tmp_path, executor, respect_source_split) -> None:
    rows = [codeparrot_row(i, split="train", difficulty="introductory") for i in range(8)]
    rows += [codeparrot_row(i, split="test", difficulty="introductory", question=f"Test problem {i}: print n + 1.")
             for i in range(8)]
    path = write_rows(tmp_path / "rows.jsonl", rows)
    res = clean_apps(path, tmp_path / "out", executor=executor, respect_source_split=respect_source_split,
                     plots=False, progress=False)
    assert len(res.problems) == 16 and res.dropped == []
    by_source = {p.id: p.split for p in res.problems}
    assert {s for pid, s in by_source.items() if pid.startswith("apps/test/")} == {"test"}
    train_side = {s for pid, s in by_source.items() if pid.startswith("apps/train/")}
    assert train_side == ({"train", "validation"} if respect_source_split else {"train", "validation", "test"})
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["split_decided_by"] == {"split field": {"test": 8, "train": 8}}
    assert "| split field | 8 | 8 |" in (tmp_path / "out" / "report.md").read_text()
    # assign_splits on its own keeps the same promise, whatever the fractions
    again = assign_splits(res.problems, seed=5, fractions=(0.0, 0.0, 1.0), respect_source_split=respect_source_split)
    assert all(p.split == "test" for p in again if p.id.startswith("apps/test/"))
