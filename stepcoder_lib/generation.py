"""Sampling completions from a causal LM: the one entry point training and evaluation share.

Returns token ids as well as text, so that FGO masks are built over exactly the tokens the policy
produced (re-tokenising the text may split it differently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch


@dataclass(frozen=True)
class Completion:
    prompt_index: int  # index into the prompts given to ``sample_completions``
    text: str  # decoded completion, cut at the first end-of-sequence token
    token_ids: tuple[int, ...]  # the completion's tokens (no prompt, no padding, no EOS)
    finished: bool  # ended with EOS (False: hit max_new_tokens)


@torch.no_grad()
def sample_completions(model: Any, tokenizer: Any, prompts: Sequence[str], *, n: int = 1, temperature: float = 1.0,
                       top_p: float = 1.0, max_new_tokens: int = 256, greedy: bool = False, seed: int = 0,
                       batch_size: int = 64) -> list[list[Completion]]:
    """``n`` completions per prompt, ``[prompt][sample]``; same seed, same completions."""
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    flat = [(i, p) for i, p in enumerate(prompts) for _ in range(n)]
    out: list[list[Completion]] = [[] for _ in prompts]
    tokenizer.padding_side = "left"
    for start in range(0, len(flat), batch_size):
        chunk = flat[start:start + batch_size]
        enc = tokenizer([p for _, p in chunk], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        gen = model.generate(**enc, do_sample=not greedy, temperature=temperature if not greedy else None,
                             top_p=top_p if not greedy else None, max_new_tokens=max_new_tokens,
                             eos_token_id=eos, pad_token_id=pad)
        for (i, _), row in zip(chunk, gen[:, enc["input_ids"].shape[1]:].tolist()):
            finished = eos in row
            ids = row[: row.index(eos)] if finished else row
            out[i].append(Completion(i, tokenizer.decode(ids, skip_special_tokens=False), tuple(ids), finished))
    return out
