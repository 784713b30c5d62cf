"""Sampling tokens/s: ``sample_completions`` against plain ``model.generate``, same model, prompts and batch.

The model is the ``tiny`` profile's architecture (the trained base model when it is already
built, else the same shape randomly initialised: speed does not depend on the weights, only
completion lengths do, so a random model is run without EOS to fixed lengths in both). Prompts
are real task prompts from the synthetic dataset. Both sides sample with the paper's RL decoding
(temperature 0.8, top-p 0.9) at batch 64; the reference is ``generate`` with its defaults
(dynamic KV cache, logits processors), timed in this process right after ours, best of
``repeats``. Target: ours >= 2x the reference.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from stepcoder_lib.models.generation import sample_completions
from stepcoder_lib.settings.profiles import get_profile

TARGET = 2.0


def _model(profile: Any) -> tuple[Any, Any, str]:
    from stepcoder_lib.models.loading import load_policy
    from stepcoder_lib.models.tiny import _llama_config, tiny_key
    from stepcoder_lib.models.tokenizer import tiny_tokenizer
    from stepcoder_lib.settings.cache import is_built
    from stepcoder_lib.settings.paths import artifacts_dir

    built = artifacts_dir() / "models" / tiny_key(profile)
    if is_built(built):
        model, tok = load_policy(built, profile, trainable=False)
        return model, tok, f"the built tiny base model ({model.num_parameters() / 1e6:.1f}M parameters)"
    from transformers import LlamaForCausalLM

    tok = tiny_tokenizer(vocab_size=profile.model.tiny.vocab_size)
    torch.manual_seed(0)
    model = LlamaForCausalLM(_llama_config(profile.model.tiny, tok)).eval()
    return model, tok, f"a randomly initialised tiny-shaped Llama ({model.num_parameters() / 1e6:.1f}M parameters)"


def _prompts(profile: Any, n: int) -> list[str]:
    from stepcoder_lib.data.synthetic import generate_problems, to_problem
    from stepcoder_lib.models.prompts import build_prompt

    records = generate_problems(n_train=n, n_test=0, seed=1, defect_rate=0.0)
    return [build_prompt(to_problem(r), profile) for r in records]


def bench(batch: int = 64, new_tokens: int = 128, repeats: int = 2, profile_name: str = "tiny") -> dict[str, float]:
    profile = get_profile(profile_name)
    model, tok, what = _model(profile)
    prompts = _prompts(profile, batch)
    eos_id = tok.eos_token_id
    settings = {"temperature": 0.8, "top_p": 0.9, "max_new_tokens": new_tokens}

    def ours() -> int:
        outs = sample_completions(model, tok, prompts, n=1, seed=0, batch_size=batch, **settings)
        return sum(len(c.token_ids) + c.finished for row in outs for c in row)

    def reference() -> int:
        tok.padding_side = "left"
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(0)
        with torch.no_grad():
            gen = model.generate(**enc, do_sample=True, eos_token_id=eos_id, pad_token_id=tok.pad_token_id,
                                 **settings)
        new = gen[:, enc["input_ids"].shape[1]:]
        count = 0
        for row in new.tolist():  # tokens up to and including EOS: what a caller gets
            count += row.index(eos_id) + 1 if eos_id in row else len(row)
        return count

    results = {}
    for name, fn in (("ours", ours), ("generate", reference)):
        best = 0.0
        for _ in range(repeats):
            t0 = time.perf_counter()
            n_tok = fn()
            best = max(best, n_tok / (time.perf_counter() - t0))
        results[name] = best
    print(f"\n== sampling tokens/s, {what}, batch {batch}, up to {new_tokens} new tokens, "
          f"{torch.get_num_threads()} threads (best of {repeats})")
    print(f"   model.generate        {results['generate']:8.0f} tok/s")
    print(f"   sample_completions    {results['ours']:8.0f} tok/s")
    ratio = results["ours"] / results["generate"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"   ratio                 {ratio:8.2f}x   (target >= {TARGET:.0f}x: {verdict})")
    return {**results, "ratio": ratio}


def main() -> None:
    bench()


if __name__ == "__main__":
    main()
