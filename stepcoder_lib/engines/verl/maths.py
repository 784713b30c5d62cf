"""The trainer subclass's maths, as plain tensor functions over verl's batch layout (no verl import).

verl keeps one ``response_mask`` (B, R) for the actor loss, the critic loss, GAE, whitening and the
token normaliser. FGO must reach the policy loss only, so the subclass (``trainer.py``) replaces,
on the driver, what verl computed between the critic's values and the two updates:

* token rewards: Eq. 4 with the paper's clipped per-token KL (verl's in-reward KL has no clip),
  the compiler's score clipped to +-``reward_clip`` on the last completion token;
* advantages and returns: GAE over every completion token (the critic is trained on all of them),
  then whitening over the tokens that enter the policy loss (completion x FGO), as the native PPO;
* the actor's mask: completion x FGO, so verl's "token-mean" divides by the kept tokens.

Each function calls ``stepcoder_lib.ppo``'s own (``kl_penalised_rewards``, ``gae``, ``whiten``):
one implementation of the maths for both engines. verl's right-padded response tensors are
exactly the native ``PPOBatch``'s completion tensors, so no re-indexing is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from stepcoder_lib.ppo import gae, kl_penalised_rewards, whiten


@dataclass(frozen=True)
class StepCoderMaths:
    """The values verl's options cannot express (``+stepcoder.*`` in the overrides; ``mapping.py``)."""

    kl_beta: float
    kl_clip: float
    reward_clip: float
    gamma: float
    lam: float
    whiten_advantages: bool


def fgo_tensor(masks: Sequence[Sequence[int]], response_mask: torch.Tensor) -> torch.Tensor:
    """The agent loop's per-rollout FGO masks as a (B, R) float tensor aligned with verl's right-padded responses.

    A mask longer than its row's response (verl cut the response at ``response_length``) is cut the same way; a
    mask shorter than the response is an error naming the row (it would silently keep untraced tokens).
    """
    b, r = response_mask.shape
    if len(masks) != b:
        raise ValueError(f"fgo_mask: {len(masks)} masks for a batch of {b} rows")
    out = torch.zeros((b, r), dtype=torch.float32)
    lengths = response_mask.sum(-1).tolist()
    for i, (mask, n) in enumerate(zip(masks, lengths)):
        n = int(n)
        if len(mask) < n:
            raise ValueError(f"fgo_mask of row {i}: {len(mask)} entries for a response of {n} tokens")
        out[i, :n] = torch.tensor(list(mask[:n]), dtype=torch.float32)
    return out.to(response_mask.device)


def scores_of(token_level_scores: torch.Tensor) -> torch.Tensor:
    """The compiler's score per rollout (B,): verl puts the agent loop's reward on the last response token."""
    return token_level_scores.sum(-1)


def token_rewards(token_level_scores: torch.Tensor, old_log_probs: torch.Tensor, ref_log_prob: torch.Tensor,
                  response_mask: torch.Tensor, maths: StepCoderMaths) -> torch.Tensor:
    """Eq. 4: ``-beta * clip(log pi - log pi_ref, +-kl_clip)`` per completion token, plus the clipped score last."""
    mask = response_mask.float()
    return kl_penalised_rewards(scores_of(token_level_scores).float(), old_log_probs.float(), ref_log_prob.float(),
                                mask, maths.kl_beta, maths.kl_clip, maths.reward_clip)


def advantages_and_returns(rewards: torch.Tensor, values: torch.Tensor, response_mask: torch.Tensor,
                           fgo_mask: torch.Tensor, maths: StepCoderMaths) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over every completion token (returns train the critic there), whitened over the kept tokens."""
    mask = response_mask.float()
    advantages, returns = gae(rewards, values.float(), mask, maths.gamma, maths.lam)
    if maths.whiten_advantages:
        advantages = whiten(advantages, policy_mask(response_mask, fgo_mask))
    return advantages, returns


def policy_mask(response_mask: torch.Tensor, fgo_mask: torch.Tensor) -> torch.Tensor:
    """The tokens in the policy loss and its normaliser: completion x FGO (the native ``PPOBatch.policy_mask``)."""
    return response_mask.to(fgo_mask.dtype) * fgo_mask


__all__ = ["StepCoderMaths", "advantages_and_returns", "fgo_tensor", "policy_mask", "scores_of", "token_rewards"]
