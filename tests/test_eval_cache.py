"""The evaluation cache: what its key sees, and that entries round-trip whole or not at all."""

from __future__ import annotations

import shutil

from eval_helpers import synthetic_test_problems

from stepcoder_lib.executor import ExecutorConfig
from stepcoder_lib.results.cache import EvalCache, cache_key, executor_settings, model_identity, problems_digest


def test_model_identity_follows_file_contents_not_location(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "model.safetensors").write_bytes(b"\x00" * 1000)
    (a / "config.json").write_text('{"hidden_size": 8}')
    b = tmp_path / "b"
    shutil.copytree(a, b)
    (b / ".hash-memo").write_text("hidden files are not the model")
    assert model_identity(a) == model_identity(b) and model_identity(a).startswith("files:")
    (b / "model.safetensors").write_bytes(b"\x00" * 999 + b"\x01")
    assert model_identity(a) != model_identity(b)
    (b / "model.safetensors").write_bytes(b"\x00" * 1000)
    (b / "config.json").write_text('{"hidden_size": 9}')
    assert model_identity(a) != model_identity(b)


def test_hub_ids_are_identified_by_id_and_revision():
    ident = model_identity("some-org/not-a-local-folder-xyz", revision="abc123")
    assert ident == "hub:some-org/not-a-local-folder-xyz@abc123"
    assert model_identity("some-org/not-a-local-folder-xyz").endswith("@main")


def test_data_digest_sees_problems_and_prompts():
    problems = synthetic_test_problems(4)
    prompts = [p.statement for p in problems]
    base = problems_digest(problems, prompts)
    assert base == problems_digest(list(problems), list(prompts))
    assert base != problems_digest(problems, prompts[:-1] + [prompts[-1] + " "])
    changed = problems[0].replace(tests=problems[0].tests.__class__(
        problems[0].tests.format, problems[0].tests.inputs, tuple(reversed(problems[0].tests.outputs)),
        problems[0].tests.fn_name))
    assert base != problems_digest([changed] + problems[1:], prompts)
    assert base != problems_digest(problems[::-1], prompts[::-1])


def test_executor_settings_ignore_the_worker_count_only():
    one, two = ExecutorConfig(workers=1), ExecutorConfig(workers=2)
    assert cache_key({"executor": executor_settings(one)}) == cache_key({"executor": executor_settings(two)})
    slower = ExecutorConfig(workers=1, time_limit_s=9.0)
    assert cache_key({"executor": executor_settings(one)}) != cache_key({"executor": executor_settings(slower)})


def test_entries_round_trip_and_half_written_entries_are_misses(tmp_path):
    cache = EvalCache(tmp_path / "cache")
    parts = {"model": "files:x", "decoding": {"temperature": 0.2}}
    key = cache_key(parts)
    assert cache.get(key) is None and key not in cache
    records = [{"problem_id": "p/1", "sample": 0, "verdict": "passed", "completion": "print('é')\n"},
               {"problem_id": "p/1", "sample": 1, "verdict": "compile_error", "completion": "def (:"}]
    cache.put(key, parts, records, {"name": "m"})
    meta, back = cache.get(key)
    assert back == records and meta["parts"] == parts and meta["n_records"] == 2 and meta["name"] == "m"
    (cache.path(key) / "samples.jsonl").unlink()  # an entry without its samples is not an entry
    assert cache.get(key) is None
    assert not [p for p in cache.root.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_large_weight_digests_are_remembered_across_processes(tmp_path, monkeypatch):
    import json
    import os

    from stepcoder_lib.results import cache as eval_cache

    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setattr(eval_cache, "_MEMO_MIN_BYTES", 100)
    monkeypatch.setattr(eval_cache, "_file_memo", {})
    model = tmp_path / "model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"\x01" * 500)
    first = model_identity(model)
    memo_file = tmp_path / "artifacts" / "eval_cache" / "file_digests.json"
    memo = json.loads(memo_file.read_text())
    assert len(memo) == 1 and next(iter(memo)).startswith(str(weights.resolve()))
    # A new process (empty in-memory memo) takes the digest from the file instead of reading the weights.
    monkeypatch.setattr(eval_cache, "_file_memo", {})
    memo_file.write_text(json.dumps(dict.fromkeys(memo, "0" * 64)))
    assert model_identity(model) != first  # proves the remembered digest was used
    weights.write_bytes(b"\x02" * 500)  # a changed file is a new key: hashed again
    os.utime(weights, ns=(1, 1))
    monkeypatch.setattr(eval_cache, "_file_memo", {})
    assert model_identity(model) != first
    weights.write_bytes(b"\x01" * 500)
    monkeypatch.setattr(eval_cache, "_file_memo", {})
    memo_file.unlink()
    assert model_identity(model) == first
