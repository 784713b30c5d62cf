"""Shared pieces of the RL tests: a real tiny Llama saved like an SFT model, smoke problems, a scripted sampler.

The scripted sampler stands in for sampling only (everything downstream is real: tokenizer,
executor, curriculum, masks, losses). A random tiny model writes programs that never compile, so
curricula would never move and FGO masks would always be all ones; the scripted policy instead
writes the canonical remainder of the solution after the CCCS prefix (a pass, with an unused
helper function appended so FGO has unexecuted code to mask) or half of it (a failure), by a
seeded coin, so passes differ between ranks and steps.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from stepcoder_lib.encoding import decode
from stepcoder_lib.generation import Completion
from stepcoder_lib.tokenizer import tiny_tokenizer

#: Appended to passing completions: defined (its ``def`` line runs) but never called (its body does not).
DEAD_CODE = ("\n\ndef unused_helper(values):\n    total = 0\n    for v in values:\n        total += v\n"
             "    return total\n")


def save_tiny_model(path: Path, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A randomly initialised tiny Llama and the project's tiny tokenizer, saved as a model folder (an "SFT model")."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=2, max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def smoke_problems(n: int | None = None) -> list[Any]:
    """The smoke generator's training problems with their reference solutions (no cleaning run needed)."""
    from stepcoder_lib.synthetic import SIZES, generate_problems, to_problem

    records = generate_problems(**{**SIZES["smoke"], "defect_rate": 0.0})
    problems = [to_problem(r) for r in records if r["split"] == "train"]
    return problems[:n] if n else problems


class ScriptedSampler:
    """``sample_completions``'s signature; completes each prompt from the canonical solution (see the module doc)."""

    def __init__(self, problems: Sequence[Any], task_prompts: dict[str, str], pass_prob: float = 0.6) -> None:
        self.by_task = {task_prompts[p.id]: p for p in problems}
        self.pass_prob = pass_prob

    def problem_and_prefix(self, prompt: str) -> tuple[Any, str]:
        task = max((t for t in self.by_task if prompt.startswith(t)), key=len)
        return self.by_task[task], prompt[len(task):]

    def __call__(self, model: Any, tokenizer: Any, prompts: Sequence[Any], *, n: int = 1, temperature: float = 1.0,
                 top_p: float = 1.0, max_new_tokens: int = 256, greedy: bool = False, seed: int = 0,
                 batch_size: int = 64) -> list[list[Completion]]:
        rng = random.Random(f"scripted/{seed}")
        out = []
        for i, prompt in enumerate(prompts):  # text, or token ids as the trainers send them
            problem, prefix = self.problem_and_prefix(prompt if isinstance(prompt, str) else decode(tokenizer, prompt))
            rest = problem.canonical_solution[len(prefix):]
            samples = []
            for _ in range(n):
                text = rest.rstrip("\n") + DEAD_CODE if rng.random() < self.pass_prob else rest[: len(rest) // 2]
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                finished = len(ids) < max_new_tokens
                ids = ids[: max_new_tokens - 1] if finished else ids[:max_new_tokens]
                samples.append(Completion(i, decode(tokenizer, ids), tuple(ids), finished))
            out.append(samples)
        return out
