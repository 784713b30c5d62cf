"""A tiny random Llama end to end on 2 problems: generate, judge, cache hit and miss, tables."""

from __future__ import annotations

import pytest
from eval_helpers import save_tiny_model, synthetic_test_problems

from stepcoder_lib.results.cache import EvalCache
from stepcoder_lib.results.evaluation import EvalSettings, ModelRef, evaluate, load_for_eval
from stepcoder_lib.results.prompts import apps_format
from stepcoder_lib.settings.profiles import get_profile


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model") / "model")


class CountingLoader:
    def __init__(self):
        self.calls = 0

    def __call__(self, source, profile):
        self.calls += 1
        return load_for_eval(source, profile)


def test_tiny_model_end_to_end_with_cache_hits_and_misses(model_dir, executor, cov_executor, tmp_path):
    profile = get_profile("smoke")
    problems = synthetic_test_problems(6)[:2]
    fmt = apps_format(profile)
    settings = EvalSettings.from_profile(profile, max_new_tokens=12)
    cache = EvalCache(tmp_path / "cache")
    loader = CountingLoader()

    def run(settings=settings, ex=executor, ref=None):
        return evaluate(ref or ModelRef("tiny-random", source=model_dir), problems, fmt, settings, ex,
                        profile=profile, cache=cache, loader=loader)

    first = run()
    assert not first.from_cache and loader.calls == 1
    assert len(first.records) == 2 * settings.n_samples
    assert set(first.records.problem_id) == {p.id for p in problems}
    assert first.records.verdict.isin(["passed", "wrong_answer", "runtime_error", "timeout", "compile_error"]).all()
    assert (first.records.n_tokens <= 12).all() and first.records.completion.str.len().gt(0).any()
    table = first.pass_at_k()
    assert list(table.columns[:2]) == ["pass@1", "pass@2"] and "overall" in table.index
    assert first.failure_breakdown().loc["overall", ("count", "samples")] == 4

    again = run()  # same model, data, decoding, executor: nothing is generated
    assert again.from_cache and loader.calls == 1 and again.key == first.key
    assert again.records.equals(first.records)

    hotter = run(EvalSettings.from_profile(profile, max_new_tokens=12, temperature=0.7))
    assert not hotter.from_cache and loader.calls == 2 and hotter.key != first.key
    other_seed = run(EvalSettings.from_profile(profile, max_new_tokens=12, seed=1))
    assert not other_seed.from_cache and loader.calls == 3
    traced = run(ex=cov_executor)  # different executor settings (coverage on) change the key
    assert not traced.from_cache and loader.calls == 4

    # Same seed, same numbers: a fresh cache regenerates exactly the same samples.
    fresh = evaluate(ModelRef("tiny-random", source=model_dir), problems, fmt, settings, executor, profile=profile,
                     cache=EvalCache(tmp_path / "other"), loader=loader)
    assert fresh.records.equals(first.records)


def test_changed_weights_and_in_memory_models_get_their_own_entries(tmp_path, executor):
    profile = get_profile("smoke")
    problems = synthetic_test_problems(6)[:2]
    fmt = apps_format(profile)
    settings = EvalSettings.from_profile(profile, max_new_tokens=8)
    cache = EvalCache(tmp_path / "cache")
    a = save_tiny_model(tmp_path / "a", seed=0)
    b = save_tiny_model(tmp_path / "b", seed=1)
    ra = evaluate(ModelRef("a", source=a), problems, fmt, settings, executor, profile=profile, cache=cache)
    rb = evaluate(ModelRef("b", source=b), problems, fmt, settings, executor, profile=profile, cache=cache)
    assert ra.key != rb.key and not rb.from_cache
    model, tok = load_for_eval(a, profile)
    mem = evaluate(ModelRef("a in memory", model=model, tokenizer=tok), problems, fmt, settings, executor,
                   profile=profile, cache=cache)
    assert mem.meta["parts"]["model"].startswith("params:")
    assert mem.records.completion.tolist() == ra.records.completion.tolist()  # same weights, same samples


def test_prompts_too_long_are_counted_as_failures_not_dropped(tmp_path, executor, model_dir):
    profile = get_profile("smoke")
    problems = synthetic_test_problems(6)[:2]
    settings = EvalSettings.from_profile(profile, max_new_tokens=8, max_prompt_tokens=5)
    result = evaluate(ModelRef("m", source=model_dir), problems, apps_format(profile), settings, executor,
                      profile=profile, cache=EvalCache(tmp_path))
    assert (result.records.verdict == "prompt_too_long").all() and len(result.records) == 4
    assert result.failure_breakdown().loc["overall", ("count", "other")] == 4
    assert result.pass_at_k().loc["overall", "pass@1"] == 0.0
