"""GRPO's rollout sampler through TRL's vLLM (``rl.grpo.vllm_mode`` = "colocate" | "server"), for the shared seam.

TRL calls the ``rollout_func`` (``grpo.SeamRollout``) after syncing the policy's weights into its
vLLM engine (``trainer.vllm_generation``); this sampler, in ``sample_completions``'s signature,
hands the seam's staged prompts to that engine as token ids (token-aligned CCCS prompts as given;
a text prompt encoded as the native sampler encodes it) and returns ``Completion``s. Decoding
(temperature, top-p, max tokens) is the engine's, set by TRL from the same ``rl`` values
(``grpo.grpo_config``); ``seed``, ``greedy`` and ``batch_size`` are the HF sampler's and have no
meaning here (vLLM batches and seeds itself).

Tested here only against a fake engine: vLLM is not installed in this project's venv (CPU only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stepcoder_lib.models.encoding import decode_after, encode
from stepcoder_lib.models.generation import Completion

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class TRLVLLMSampler:
    """``sample_completions``'s signature over ``trainer.vllm_generation`` (bind the trainer once it exists)."""

    def __init__(self) -> None:
        self.trainer: Any = None

    def bind(self, trainer: Any) -> None:
        self.trainer = trainer

    def __call__(self, model: Any, tokenizer: PreTrainedTokenizerBase,
                 prompts: Sequence[str] | Sequence[Sequence[int]], *, n: int = 1,
                 temperature: float = 1.0,
                 top_p: float = 1.0, max_new_tokens: int = 256, greedy: bool = False, seed: int = 0,
                 batch_size: int = 64) -> list[list[Completion]]:
        if self.trainer is None or getattr(self.trainer, "vllm_generation", None) is None:
            raise RuntimeError("TRLVLLMSampler: no TRL trainer with vLLM bound (GRPOConfig.use_vllm must be true)")
        if greedy:
            raise ValueError("TRLVLLMSampler samples with the engine's settings; greedy decoding is not offered")
        encoded = [encode(tokenizer, p) if isinstance(p, str) else [int(t) for t in p] for p in prompts]
        _, completion_ids, _, _ = self.trainer.vllm_generation.generate(prompts=[list(e) for e in encoded],
                                                                        images=None, num_generations=n)
        if len(completion_ids) != len(prompts) * n:
            raise RuntimeError(f"vLLM returned {len(completion_ids)} completions for {len(prompts)} x {n} prompts")
        eos = tokenizer.eos_token_id
        out: list[list[Completion]] = []
        for i in range(len(prompts)):
            row = []
            for ids in completion_ids[i * n:(i + 1) * n]:
                ids = [int(t) for t in ids][:max_new_tokens]
                finished = bool(ids) and ids[-1] == eos
                body = ids[:-1] if finished else ids  # the seam appends EOS itself when finished
                row.append(Completion(i, decode_after(tokenizer, encoded[i], body), tuple(body), finished))
            out.append(row)
        return out


__all__ = ["TRLVLLMSampler"]
