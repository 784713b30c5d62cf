"""``make gpu-check`` must stop at once, saying why, where no CUDA device is visible (as on the CPU CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from stepcoder_lib.settings.paths import repo_root


def test_gpu_check_fails_clearly_without_cuda() -> None:
    if torch.cuda.is_available():
        msg = "a CUDA device is visible: the no-GPU refusal cannot be observed here (run make gpu-check instead)"
        print(msg)
        pytest.skip(msg)
    proc = subprocess.run([sys.executable, str(repo_root() / "benchmarks" / "gpu_check.py")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "no CUDA device is visible" in proc.stderr


def _gpu_check() -> object:
    sys.path.insert(0, str(repo_root() / "benchmarks"))
    import gpu_check

    return gpu_check


def test_gpu_check_parts_run_on_cpu_at_a_tiny_shape() -> None:
    """The 6.7B parts' code, at a tiny Llama shape on CPU (the GPU numbers themselves need the GPU)."""
    from stepcoder_lib.models.tokenizer import tiny_tokenizer

    gc = _gpu_check()
    tok = tiny_tokenizer()
    shape = {**gc.DEEPSEEK_CODER_6_7B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": len(tok),
             "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    rows = gc.sampler_throughput(tok, shape, "cpu", batches=(2, 3), new_tokens=8, prompt_tokens=16)
    assert [r["batch"] for r in rows] == [2, 3]
    assert all(0 < r["new_tokens"] <= r["batch"] * 8 and r["tokens_per_s"] > 0 for r in rows)
    res = gc.ppo_step_memory(shape, "cpu", sequences=2, prompt_tokens=8, new_tokens=8)
    assert "error" not in res and res["wall_s"] >= 0
    assert res["params_with_adam_state"] == len(list(gc.big_model(torch.float32, shape, "cpu").parameters()))


@pytest.mark.slow
def test_gpu_check_tiny_chain_runs_the_rl_chain() -> None:
    """The first part, on whatever device is present (CPU here, with small batches): run_rl's PPO chain, two steps."""
    out = _gpu_check().tiny_chain(steps=2, overrides={"rl.problems_per_step": 2, "rl.rollouts_per_problem": 2,
                                                      "rl.max_new_tokens": 32, "rl.ppo.minibatch_size": 4})
    assert out["steps"] == 2 and out["done"] and out["last_step"]["rollouts"] == 4
