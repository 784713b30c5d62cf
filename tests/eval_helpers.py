"""Helpers for the evaluation tests: a tiny random Llama saved like a trained run, and run folders.

Real components only: transformers' own LlamaForCausalLM (random weights, seeded), the project's
byte-level BPE tokenizer, save_pretrained; runs laid out as ``stepcoder_lib.training.runs`` documents.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from stepcoder_lib.data.synthetic import generate_problems, to_problem


def save_tiny_model(path: Path, seed: int = 0, hidden: int = 32, layers: int = 1) -> Path:
    """A random tiny Llama and the tiny tokenizer in ``path`` (save_pretrained format)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from stepcoder_lib.models.tokenizer import tiny_tokenizer

    tok = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=1024, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def synthetic_test_problems(n: int = 6, seed: int = 0) -> list:
    """``n`` generated held-out problems (all three difficulties once n >= 5) as Problems."""
    records = generate_problems(n_train=4, n_test=n, seed=seed, defect_rate=0.0)
    return [to_problem(r) for r in records if r["split"] == "test"]


def write_fake_run(root: Path, config: str, seed: int, model_seed: int, steps: int = 4, cccs: bool = False,
                   fgo: bool = False) -> Path:
    """One run folder as the trainers write it: config.json, metrics.jsonl, model/ (random weights)."""
    run = root / config / f"seed{seed}"
    save_tiny_model(run / "model", seed=model_seed)
    (run / "config.json").write_text(json.dumps({"config": config, "seed": seed, "cccs": cccs, "fgo": fgo}))
    with open(run / "metrics.jsonl", "w") as fh:
        for step in range(steps):
            row = {"step": step, "reward_mean": -0.9 + 0.1 * step + 0.01 * seed, "pass_rate": 0.05 * step}
            if cccs:
                row["mean_stage"] = max(0.0, 2.0 - 0.5 * step)
            if fgo:
                row["fgo_kept_share"] = 0.6 + 0.05 * math.sin(step)
            fh.write(json.dumps(row) + "\n")
    return run
