"""The fast sampler against ``model.generate``: same greedy tokens, seeded sampling, stops at EOS."""

from __future__ import annotations

import pytest
import torch

from stepcoder_lib.models.generation import NucleusWidth, _next_tokens, sample_completions
from stepcoder_lib.models.tokenizer import stdlib_corpus, train_code_tokenizer

#: Short programs, each ending in EOS: a model trained on them briefly stops after a line or two.
LINES = ["x = 1\n", "y = x + 2\n", "print(x)\n", "def f(a):\n    return a\n", "for i in range(3):\n    print(i)\n",
         "if x > 0:\n    y = 1\nelse:\n    y = 2\n", "s = input()\n", "n = int(input())\nprint(n * 2)\n"]
PROMPTS = ["x =", "def f(", "for i in", "n = int(input())\n", "if x", "print(", "s", "y = x +", "# a comment\nx",
           "while True:\n    "]


@pytest.fixture(scope="module")
def stopping_model():
    """A real tokenizer and a 2-layer Llama trained for a few seconds on short EOS-terminated programs."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_code_tokenizer(stdlib_corpus(40_000) + LINES * 20, vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                         max_position_embeddings=256, eos_token_id=tok.eos_token_id,
                                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id))
    ids = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in LINES]
    width = max(map(len, ids))
    batch = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x in ids])
    labels = batch.masked_fill(batch == tok.pad_token_id, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model(input_ids=batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval(), tok


def _hf_greedy(model, tok, prompt: str, max_new_tokens: int) -> list[int]:
    enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
    return out[0, enc["input_ids"].shape[1]:].tolist()


def test_greedy_equals_hf_greedy_and_stops_at_eos(stopping_model) -> None:
    model, tok = stopping_model
    # 20 rows in one batch: three prefill groups of different widths laid into one cache
    ours = sample_completions(model, tok, PROMPTS, n=2, greedy=True, max_new_tokens=24, batch_size=20)
    stopped, lengths = 0, set()
    for i, prompt in enumerate(PROMPTS):
        ref = _hf_greedy(model, tok, prompt, 24)  # one prompt at a time: no padding in the reference
        finished = tok.eos_token_id in ref
        expected = ref[: ref.index(tok.eos_token_id)] if finished else ref
        for c in ours[i]:  # both greedy samples are the reference's tokens, cut at EOS
            assert list(c.token_ids) == expected, (prompt, c.token_ids, ref)
            assert c.finished == finished and c.prompt_index == i
            assert c.text == tok.decode(expected) and tok.eos_token_id not in c.token_ids
        stopped += finished
        lengths.add(len(expected))
    assert len(lengths) > 2, "rows should finish at different steps (the sampler drops finished rows)"
    assert stopped >= len(PROMPTS) // 2, "the fixture model should end most completions with EOS"


def test_sampling_is_reproducible_by_seed(stopping_model) -> None:
    model, tok = stopping_model
    kw = {"n": 3, "temperature": 1.3, "top_p": 0.95, "max_new_tokens": 16, "batch_size": 8}
    a = sample_completions(model, tok, PROMPTS, seed=1, **kw)
    b = sample_completions(model, tok, PROMPTS, seed=1, **kw)
    c = sample_completions(model, tok, PROMPTS, seed=2, **kw)
    assert [[x.token_ids for x in row] for row in a] == [[x.token_ids for x in row] for row in b]
    assert [[x.token_ids for x in row] for row in a] != [[x.token_ids for x in row] for row in c]
    assert all(len(row) == 3 for row in a) and len(a) == len(PROMPTS)
    rng_before = torch.random.get_rng_state()
    sample_completions(model, tok, PROMPTS[:2], seed=3, **kw)
    assert torch.equal(rng_before, torch.random.get_rng_state())  # the global RNG is left alone


def test_top_p_keeps_the_nucleus_and_temperature_sharpens() -> None:
    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).repeat(4000, 1)
    logits = probs.log()
    picks = _next_tokens(logits.clone(), False, 1.0, 0.8, gen)  # nucleus {0, 1}: 0.5 + 0.3 >= 0.8
    counts = torch.bincount(picks, minlength=4).float() / len(picks)
    assert counts[2] == 0 and counts[3] == 0
    assert abs(counts[0] - 0.5 / 0.8) < 0.03 and abs(counts[1] - 0.3 / 0.8) < 0.03
    picks = _next_tokens(logits.clone(), False, 1.0, 0.81, gen)  # 0.8 < 0.81: token 2 joins
    assert (picks == 2).any() and not (picks == 3).any()
    cold = _next_tokens(logits.clone(), False, 0.05, 1.0, gen)  # temperature -> 0 approaches argmax
    assert (cold == 0).float().mean() > 0.99
    wide = torch.zeros(2000, 300)  # uniform over 300: the nucleus lies beyond the first 64 candidates
    picks = _next_tokens(wide, False, 1.0, 0.5, gen)
    assert 100 < len(picks.unique()) <= 150


def test_sampling_stops_at_eos_and_respects_the_token_budget(stopping_model) -> None:
    model, tok = stopping_model
    out = sample_completions(model, tok, ["x =", "while True:\n    "], n=4, temperature=0.7, top_p=0.9,
                             max_new_tokens=5, seed=0)
    for row in out:
        for c in row:
            assert len(c.token_ids) <= 5 and tok.eos_token_id not in c.token_ids
            assert c.finished or len(c.token_ids) == 5
    with pytest.raises(ValueError, match="temperature"):
        sample_completions(model, tok, ["x"], temperature=0.0)


def test_nucleus_width_follows_the_distribution_and_keeps_the_nucleus() -> None:
    """The next step starts its top-k where the last step's nucleus ended; what is sampled does not change."""
    gen, width = torch.Generator().manual_seed(0), NucleusWidth()
    wide = torch.zeros(2000, 300)  # uniform over 300: a nucleus of 150 for top_p 0.5
    picks = _next_tokens(wide.clone(), False, 1.0, 0.5, gen, width)
    assert 100 < len(picks.unique()) <= 150 and width.k == 300
    peaked = torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 296]).clamp_min(1e-12).log().repeat(4000, 1)
    picks = _next_tokens(peaked.clone(), False, 1.0, 0.8, gen, width)  # starts at 300, finds a nucleus of 2
    assert set(picks.tolist()) == {0, 1} and width.k == 64
    counts = torch.bincount(picks, minlength=2).float() / len(picks)
    assert abs(counts[0] - 0.5 / 0.8) < 0.03
