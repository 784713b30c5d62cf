"""``make gpu-check``: what this project needs from one CUDA GPU, measured in one run (under 8 minutes, no downloads).

1. The tiny profile's RL chain on CUDA: ``train.run_rl`` (PPO, CCCS + FGO) for a few steps on
   generated problems, from a random-initialised model of the tiny profile's shape (the check is
   the device path -- sampling, executor, loss, optimiser, checkpoint -- not learning).
2. A random-initialised model with DeepSeek-Coder-6.7B's shape (its config values, written below;
   no weights are read): the native sampler's (``generation.sample_completions``) tokens/s and
   peak memory at batch 8, 16 and 64 x 1,024 new tokens, in bfloat16.
3. One PPO policy update at that size with fp32 master weights (bf16 autocast, AdamW, gradient
   checkpointing): peak memory. The critic and the reference would double and add to it; this
   measures whether the policy side alone fits one GPU (``models.plan`` estimates the rest).

Results print as a table and go to ``artifacts/gpu_check.json``. Without CUDA it stops at once
with exit code 2. It has NOT yet run on a GPU (the README's "At scale" section says where it has).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: deepseek-ai/deepseek-coder-6.7b-instruct's config.json values (a LlamaForCausalLM), written here: no download.
DEEPSEEK_CODER_6_7B = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                       "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32256,
                       "rope_theta": 100000.0, "max_position_embeddings": 16384, "rms_norm_eps": 1e-6,
                       "hidden_act": "silu", "bos_token_id": 32013, "eos_token_id": 32021}
SAMPLER_BATCHES = (8, 16, 64)
NEW_TOKENS = 1024
PROMPT_TOKENS = 256  # a short APPS statement in the paper's template
PPO_SEQUENCES = 4  # one PPO minibatch per optimiser step on this GPU
BUDGET_S = 450.0  # stop starting new parts after this many seconds (the whole check stays under 8 minutes)
GIB = 1024 ** 3


def require_cuda() -> None:
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible (torch.cuda.is_available() is False); this check needs one GPU "
              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})", file=sys.stderr)
        sys.exit(2)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / GIB, 1) if device == "cuda" else None


def tiny_chain(steps: int = 3, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``run_rl`` on CUDA: the tiny profile's model shape and RL settings, generated problems, a few PPO steps
    (``overrides``: more profile values, e.g. smaller batches for the CPU test of this function)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from stepcoder_lib.profiles import get_profile
    from stepcoder_lib.synthetic import SIZES, generate_problems, to_problem
    from stepcoder_lib.tokenizer import tiny_tokenizer
    from stepcoder_lib.train import run_rl

    profile = get_profile("tiny", {"rl.steps": steps, "rl.probe_problems": 0, "rl.checkpoint_every": steps,
                                   **(overrides or {})})
    problems = [to_problem(r) for r in generate_problems(**{**SIZES["smoke"], "defect_rate": 0.0})
                if r["split"] == "train"]
    tiny = profile.model.tiny
    tok = tiny_tokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        sft = Path(tmp) / "sft"
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=tiny.hidden_size, intermediate_size=tiny.intermediate_size,
                          num_hidden_layers=tiny.num_layers, num_attention_heads=tiny.num_heads,
                          max_position_embeddings=tiny.max_position_embeddings, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        torch.manual_seed(0)
        LlamaForCausalLM(cfg).save_pretrained(str(sft))
        tok.save_pretrained(str(sft))
        t0 = time.perf_counter()
        run_dir = run_rl(profile, "ppo", cccs=True, fgo=True, seed=0, out_dir=Path(tmp) / "runs", sft_path=sft,
                         problems=problems, force=True)
        wall = time.perf_counter() - t0
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
        done = (run_dir / "done.json").exists()
    return {"steps": len(metrics), "done": done, "wall_s": round(wall, 1),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "last_step": metrics[-1] if metrics else None}


def big_model(dtype: torch.dtype, shape: dict[str, Any] = DEEPSEEK_CODER_6_7B, device: str = "cuda") -> Any:
    """A random-initialised model of ``shape`` (DeepSeek-Coder-6.7B's) on ``device``, in ``dtype``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**shape)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(previous)
    return model


def sampler_throughput(tokenizer: Any, shape: dict[str, Any] = DEEPSEEK_CODER_6_7B, device: str = "cuda",
                       batches: tuple[int, ...] = SAMPLER_BATCHES, new_tokens: int = NEW_TOKENS,
                       prompt_tokens: int = PROMPT_TOKENS) -> list[dict[str, Any]]:
    """Tokens/s and peak memory of ``sample_completions`` at each batch size (T 0.8, top-p 0.9: the paper's)."""
    from stepcoder_lib.generation import sample_completions

    model = big_model(torch.bfloat16, shape, device)
    words = "write an algorithm in python that reads the input and prints the answer " * 40
    prompt = tokenizer.decode(tokenizer(words, add_special_tokens=False)["input_ids"][:prompt_tokens])
    rows: list[dict[str, Any]] = []
    for batch in batches:
        _sync(device)
        _reset_peak(device)
        t0 = time.perf_counter()
        try:
            out = sample_completions(model, tokenizer, [prompt] * batch, n=1, temperature=0.8, top_p=0.9,
                                     max_new_tokens=new_tokens, seed=0, batch_size=batch)
        except torch.cuda.OutOfMemoryError as exc:
            rows.append({"batch": batch, "error": f"CUDA out of memory: {str(exc).splitlines()[0]}"})
            torch.cuda.empty_cache()
            continue
        _sync(device)
        wall = time.perf_counter() - t0
        tokens = sum(len(c[0].token_ids) for c in out)
        rows.append({"batch": batch, "new_tokens": tokens, "wall_s": round(wall, 1),
                     "tokens_per_s": round(tokens / wall, 1), "peak_gib": _peak_gib(device)})
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return rows


def ppo_step_memory(shape: dict[str, Any] = DEEPSEEK_CODER_6_7B, device: str = "cuda", sequences: int = PPO_SEQUENCES,
                    prompt_tokens: int = PROMPT_TOKENS, new_tokens: int = NEW_TOKENS) -> dict[str, Any]:
    """Peak memory of one PPO policy update (fp32 master weights, bf16 autocast, AdamW) at the 6.7B shape."""
    from stepcoder_lib.ppo import PPOBatch, policy_loss, token_logprobs

    _reset_peak(device)
    model = big_model(torch.float32, shape, device)
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=5e-7, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.0)
    b, p, r = sequences, prompt_tokens, new_tokens
    g = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(3, int(shape["vocab_size"]) - 1, (b, p + r), device=device, generator=g)
    ones = torch.ones(b, r, device=device)
    batch = PPOBatch(ids, torch.ones_like(ids), torch.arange(p - 1, p - 1 + r, device=device).expand(b, r),
                     ids[:, p:], ones, ones, torch.zeros(b, device=device))
    result: dict[str, Any] = {"sequences": b, "tokens_per_sequence": p + r, "parameters": n_params,
                              "fp32_weights_gib": round(n_params * 4 / GIB, 1)}
    try:
        t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16):
            new_logp, _ = token_logprobs(model, batch, temperature=0.8)
        loss, _ = policy_loss(new_logp, new_logp.detach() + 0.01, torch.randn(b, r, device=device, generator=g),
                              batch.policy_mask, 0.2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        _sync(device)
        result["wall_s"] = round(time.perf_counter() - t0, 1)
        result["params_with_adam_state"] = len(opt.state)
    except torch.cuda.OutOfMemoryError as exc:
        result["error"] = f"CUDA out of memory: {str(exc).splitlines()[0]}"
    result["peak_gib"] = _peak_gib(device)
    if device == "cuda":
        result["gpu_total_gib"] = round(torch.cuda.get_device_properties(0).total_memory / GIB, 1)
    del model, opt
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> int:
    require_cuda()
    from stepcoder_lib.paths import artifacts_dir
    from stepcoder_lib.tokenizer import tiny_tokenizer

    start = time.perf_counter()
    report: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                              "cuda": torch.version.cuda}
    parts = [("tiny_chain", tiny_chain), ("sampler_6.7b_bf16", lambda: sampler_throughput(tiny_tokenizer())),
             ("ppo_step_6.7b_fp32_master", ppo_step_memory)]
    for name, part in parts:
        if time.perf_counter() - start > BUDGET_S:
            report[name] = {"skipped": f"the {BUDGET_S:.0f} s budget was spent before this part"}
            continue
        t0 = time.perf_counter()
        report[name] = part()
        print(f"{name} ({time.perf_counter() - t0:.0f} s): {json.dumps(report[name], default=str)}", flush=True)
    report["total_s"] = round(time.perf_counter() - start, 1)
    out = artifacts_dir() / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"gpu_check: {report['total_s']} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
