"""GRPO at scale on TRL: ``rl.grpo.vllm_mode`` into TRL's config, and the seam's sampler over TRL's vLLM engine.

vLLM is not installed here (CPU only): the engine is a fake with ``VLLMGeneration.generate``'s signature and return
shape; what is checked is the mapping and the sampler's conversion, not vLLM."""

from __future__ import annotations

import pytest

from stepcoder_lib.models.encoding import encode
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.models.trl_vllm import TRLVLLMSampler
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.grpo import grpo_config


@pytest.mark.parametrize("mode", ["colocate", "server"])
def test_vllm_mode_maps_onto_trls_config(tmp_path, mode: str) -> None:
    rl = get_profile("smoke", {"rl.grpo.vllm_mode": mode, "rl.grpo.vllm_gpu_memory_utilization": 0.4}).rl
    args = grpo_config(rl, tmp_path, seed=0, world_size=1)
    assert args.use_vllm and args.vllm_mode == mode and args.vllm_gpu_memory_utilization == 0.4
    assert (args.temperature, args.top_p, args.max_completion_length) == (rl.temperature, rl.top_p, rl.max_new_tokens)


def test_vllm_off_keeps_hf_generate_and_a_bad_mode_is_refused_by_the_profile(tmp_path) -> None:
    assert not grpo_config(get_profile("smoke").rl, tmp_path, seed=0, world_size=1).use_vllm
    with pytest.raises(ValueError, match="rl.grpo.vllm_mode='fast': choose one of off, colocate, server"):
        get_profile("smoke", {"rl.grpo.vllm_mode": "fast"})


class FakeVLLMGeneration:
    """``trl.generation.vllm_generation.VLLMGeneration.generate``: (prompt ids, completion ids, logprobs, ids)."""

    def __init__(self, eos: int) -> None:
        self.eos = eos
        self.seen: list[list[int]] = []

    def generate(self, prompts: list[list[int]], images: object, num_generations: int, profiler: object = None):
        self.seen.extend(prompts)
        completions = [[7, 8, self.eos] if i % 2 == 0 else [9, 10, 11] for i in range(len(prompts) * num_generations)]
        return prompts, completions, [[[0.0]] * len(c) for c in completions], None


def test_the_sampler_sends_staged_prompt_ids_and_returns_completions_as_the_seam_expects() -> None:
    tok = tiny_tokenizer()
    engine = FakeVLLMGeneration(tok.eos_token_id)
    sampler = TRLVLLMSampler()
    with pytest.raises(RuntimeError, match="no TRL trainer with vLLM bound"):
        sampler(None, tok, ["x"])
    sampler.bind(type("Trainer", (), {"vllm_generation": engine})())
    staged = [encode(tok, "### Instruction:\nadd\n### Response:\ndef f(a):\n"), [5, 6, 7]]
    out = sampler(None, tok, [staged[0], "### Instruction:\nsub\n"], max_new_tokens=64)
    assert engine.seen == [staged[0], encode(tok, "### Instruction:\nsub\n")]  # ids as given, text as natively
    assert [c[0].token_ids for c in out] == [(7, 8), (9, 10, 11)]
    assert [c[0].finished for c in out] == [True, False]  # EOS stripped; the seam appends it to the actions
    assert [c[0].prompt_index for c in out] == [0, 1]
