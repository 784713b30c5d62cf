"""PPO as the paper trains StepCoder: one readable file, in the spirit of CleanRL's ``ppo.py``.

TRL 1.16 ships no PPO for language models, so this is written by hand. The pieces, in the order a
step runs them (``PPOTrainer.train_step``):

1. Rollouts through the shared seam (``stepcoder_lib.training.rollout``): CCCS prompt, completion, executor,
   Eq. 3 reward, FGO mask, curriculum update.
2. Old log-probs (policy), reference log-probs (the frozen SFT model) and values (the critic) of
   every completion token, at the sampling temperature (the distribution the tokens came from).
3. Eq. 4's reward per token: ``-beta * clip(log pi - log pi_ref, -c, c)`` at every token, plus the
   compiler's reward (clipped to +-``reward_clip``) on the last token. The paper's "token-level KL
   coefficient 0.05 with a clip value of 0.8" is read as this per-token clip of the log-ratio: a
   token's penalty is at most 0.05 * 0.8 = 0.04, so a few very unlikely tokens under the reference
   cannot swamp the +1/-1 reward of the program.
4. GAE (Eq. 2) backwards over the completion (``rl.ppo.gamma``, ``rl.ppo.lam``: MOSS-RLHF's defaults,
   which the paper's group uses; the paper prints neither), value of the state after the last token = 0.
5. ``rl.update_epochs`` passes of shuffled minibatches: clipped policy loss and clipped value loss, each
   model with its own Adam (``rl.policy_lr``, ``rl.ppo.critic_lr``: the paper's).

Every setting is read from the profile's ``rl`` section (``settings.profiles.RLConfig``: the shared
ones, and ``rl.ppo`` for PPO's own), where each is documented once.

Masks. The CCCS prefix is prompt, so no loss term ever involves a prefix token. The policy loss is
a token mean over ``completion mask x FGO mask`` (MOSS-RLHF's token-level normalisation: the sum
over kept tokens / their count), so unexecuted tokens carry no gradient. The critic's loss is NOT
masked by FGO: GAE bootstraps through every completion token, so an executed token's advantage
depends on the values of the unexecuted tokens after it; a critic never trained there would feed
it noise. Advantages are whitened over the tokens that enter the policy loss, across ranks.

The critic is the SFT model's transformer body (a copy) with a scalar head initialised to zero,
so every value starts at 0 and the first steps' advantages are the discounted rewards themselves.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import Executor
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.reward import PAPER_REWARD, RewardTable
from stepcoder_lib.models.generation import sample_completions
from stepcoder_lib.models.loading import mixed_precision
from stepcoder_lib.settings.profiles import RLConfig
from stepcoder_lib.training.rollout import (
    Rollout,
    Sampler,
    SamplingSettings,
    StagePrompts,
    collect_rollouts,
    step_metrics,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class ValueModel(nn.Module):
    """The critic: a copy of the policy's transformer body and a zero-initialised scalar head, one value per token."""

    def __init__(self, causal_lm: Any) -> None:
        super().__init__()
        self.body = copy.deepcopy(causal_lm.base_model)
        self.head = nn.Linear(causal_lm.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden).squeeze(-1)


# --------------------------------------------------------------------------- tensors of a step
@dataclass
class PPOBatch:
    """Rollouts as tensors. Sequences are prompt + completion, right-padded (positions count from each
    sequence's start, as at sampling). ``positions[b, j]`` is where the logits predicting completion token j sit."""

    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    positions: torch.Tensor  # (B, R)
    actions: torch.Tensor  # (B, R) completion tokens (0 past the end)
    completion_mask: torch.Tensor  # (B, R) 1 on completion tokens of trainable rollouts
    fgo_mask: torch.Tensor  # (B, R) FGO mask (all ones with FGO off)
    scores: torch.Tensor  # (B,) the compiler's reward (Eq. 3)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, idx: torch.Tensor) -> PPOBatch:
        """The rows ``idx``, cut to their own longest sequence and completion: right padding changes no logit
        before it, and a minibatch's longest row is often far shorter than the step's."""
        rows = PPOBatch(*(getattr(self, f.name)[idx] for f in dataclasses.fields(self)))
        seq_len = max(1, int(rows.attention_mask.sum(1).max()))
        filled = (rows.positions > 0).any(0).nonzero()
        resp_len = int(filled.max()) + 1 if len(filled) else 1
        return dataclasses.replace(
            rows, input_ids=rows.input_ids[:, :seq_len], attention_mask=rows.attention_mask[:, :seq_len],
            positions=rows.positions[:, :resp_len], actions=rows.actions[:, :resp_len],
            completion_mask=rows.completion_mask[:, :resp_len], fgo_mask=rows.fgo_mask[:, :resp_len])

    @property
    def policy_mask(self) -> torch.Tensor:
        """Tokens in the policy loss: completion x FGO."""
        return self.completion_mask * self.fgo_mask


def make_batch(rollouts: Sequence[Rollout], tokenizer: PreTrainedTokenizerBase, device: Any = "cpu") -> PPOBatch:
    """The prompt ids the policy was sampled from (token-aligned, as given) followed by its own completion tokens."""
    prompts = [list(r.prompt_ids) for r in rollouts]
    seqs = [list(p) + list(r.token_ids) for p, r in zip(prompts, rollouts)]
    b, seq_len = len(seqs), max(len(s) for s in seqs)
    resp_len = max(1, max(len(r.token_ids) for r in rollouts))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((b, seq_len), pad, dtype=torch.long)
    attention = torch.zeros((b, seq_len), dtype=torch.long)
    positions = torch.zeros((b, resp_len), dtype=torch.long)
    actions = torch.zeros((b, resp_len), dtype=torch.long)
    completion = torch.zeros((b, resp_len))
    fgo = torch.zeros((b, resp_len))
    for i, (p, r, s) in enumerate(zip(prompts, rollouts, seqs)):
        n = len(r.token_ids)
        input_ids[i, : len(s)] = torch.tensor(s)
        attention[i, : len(s)] = 1
        positions[i, :n] = torch.arange(len(p) - 1, len(p) - 1 + n)
        actions[i, :n] = torch.tensor(r.token_ids, dtype=torch.long)
        completion[i, :n] = 1.0 if r.trainable else 0.0
        fgo[i, :n] = torch.tensor(r.mask, dtype=torch.float)
    scores = torch.tensor([r.reward for r in rollouts], dtype=torch.float)
    return PPOBatch(input_ids.to(device), attention.to(device), positions.to(device), actions.to(device),
                    completion.to(device), fgo.to(device), scores.to(device))


#: Model types whose logits are exactly ``lm_head(last hidden state)`` (no soft-capping or scaling after the head).
PLAIN_HEAD_MODELS = frozenset({"llama", "qwen2", "mistral"})


def completion_logits(model: nn.Module, batch: PPOBatch) -> torch.Tensor:
    """Logits at the positions that predict completion tokens (B, R, V).

    The LM head runs on those positions only: a prompt is most of each sequence, and at the tiny
    model's size the head is a quarter of the forward FLOPs. A model whose logits are not the plain
    head's (``PLAIN_HEAD_MODELS``), or one wrapped for distributed training (whose forward must
    be the wrapper's, for the gradient all-reduce), takes the full forward and a gather instead."""
    config = getattr(model, "config", None)
    lm: Any = model  # a transformers PreTrainedModel (or a peft wrapper of one) on this path
    if (getattr(config, "model_type", None) in PLAIN_HEAD_MODELS and hasattr(lm, "get_decoder")
            and lm.get_output_embeddings() is not None):
        hidden = lm.get_decoder()(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        picked = torch.gather(hidden, 1, batch.positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        return lm.get_output_embeddings()(picked)
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    return torch.gather(logits, 1, batch.positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))


def token_logprobs(model: nn.Module, batch: PPOBatch, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob and entropy of every completion token (B, R), at the sampling temperature."""
    picked = completion_logits(model, batch)
    logp_all = F.log_softmax(picked.float() / temperature, dim=-1)
    logp = torch.gather(logp_all, -1, batch.actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def token_values(critic: nn.Module, batch: PPOBatch) -> torch.Tensor:
    """The critic's value of the state before each completion token (B, R)."""
    values = critic(batch.input_ids, batch.attention_mask)
    return torch.gather(values, 1, batch.positions).float()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def kl_penalised_rewards(scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                         beta: float, kl_clip: float, reward_clip: float) -> torch.Tensor:
    """Eq. 4 per token: -beta * clipped log-ratio everywhere, plus the clipped score on the last completion token."""
    kl = (logp - ref_logp).clamp(-kl_clip, kl_clip) if kl_clip > 0 else logp - ref_logp
    rewards = -beta * kl * mask
    last = (mask.sum(-1).long() - 1).clamp(min=0)
    has_tokens = mask.sum(-1) > 0
    rewards[torch.arange(len(scores)), last] += scores.clamp(-reward_clip, reward_clip) * has_tokens
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 2, backwards over each completion (the value after its last token is 0). Returns advantages, returns."""
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * m
        advantages[:, t] = running
        next_value = values[:, t] * m  # past the end (m = 0) the next value stays 0
    return advantages, advantages + values


def whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over the masked entries of all ranks (shift kept: MOSS-RLHF's ``whiten``)."""
    import torch.distributed as dist  # lazy: importing this module needs no torch

    stats = torch.stack([(x * mask).sum(), (x * x * mask).sum(), mask.sum()]).double()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(stats)
    n = stats[2].clamp(min=1.0)
    mean = stats[0] / n
    var = (stats[1] / n - mean * mean).clamp(min=0.0)
    return ((x - mean) * torch.rsqrt(var + 1e-8)).to(x.dtype) * mask


def policy_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                clip_range: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped surrogate, a token mean over ``mask`` (completion x FGO): masked tokens contribute nothing."""
    log_ratio = (new_logp - old_logp) * mask
    ratio = log_ratio.exp()
    loss1 = -advantages * ratio
    loss2 = -advantages * ratio.clamp(1 - clip_range, 1 + clip_range)
    loss = masked_mean(torch.max(loss1, loss2), mask)
    with torch.no_grad():
        stats = {"clip_fraction": masked_mean((loss2 > loss1).float(), mask),
                 "approx_kl": masked_mean(ratio - 1 - log_ratio, mask)}
    return loss, stats


def value_loss(new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               value_clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss (MOSS-RLHF / PPO2), a token mean over the completion mask (not FGO: see the docstring)."""
    clipped = old_values + (new_values - old_values).clamp(-value_clip, value_clip)
    l1, l2 = (new_values - returns) ** 2, (clipped - returns) ** 2
    return 0.5 * masked_mean(torch.max(l1, l2), mask), masked_mean((l2 > l1).float(), mask).detach()


def problems_for_step(problems: Sequence[Problem], step: int, k: int, seed: int) -> list[Problem]:
    """The ``k`` problems of a step: consecutive slices of a seeded permutation per epoch (same on every rank)."""
    n = len(problems)
    out = []
    for j in range(step * k, step * k + k):
        epoch, pos = divmod(j, n)
        order = list(range(n))
        random.Random(f"stepcoder-ppo/{seed}/{epoch}").shuffle(order)
        out.append(problems[order[pos]])
    return out


# --------------------------------------------------------------------------- the trainer
class PPOTrainer:
    """Policy, critic, frozen reference, two optimisers; ``train_step`` runs one PPO iteration.

    Distributed through ``accelerate``: each rank samples its share of the step's problems, the
    curriculum is updated from everyone's rollouts, gradients are averaged by DDP.
    """

    def __init__(self, policy: nn.Module, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                 task_prompts: Mapping[str, str], rl: RLConfig, *, executor: Executor,
                 curriculum: Curriculum | None, fgo: bool, seed: int = 0,
                 accelerator: Any = None, reward_table: RewardTable = PAPER_REWARD,
                 sampler: Sampler = sample_completions, compute_dtype: str = "float32") -> None:
        from accelerate import Accelerator  # lazy: importing this module needs no accelerate
        from transformers import get_scheduler  # lazy: importing this module needs no transformers

        if any(p.dtype != torch.float32 for p in policy.parameters() if p.requires_grad):
            raise ValueError("PPO trains fp32 master weights: load the policy with load_policy(..., trainable=True) "
                             "and set compute_dtype='bfloat16' for 16-bit compute")

        self.rl, self.tokenizer, self.executor = rl, tokenizer, executor
        self.problems, self.task_prompts = list(problems), dict(task_prompts)
        self.curriculum, self.fgo, self.seed, self.reward_table = curriculum, fgo, seed, reward_table
        self.sampler = sampler
        self.prompts = StagePrompts(tokenizer, self.task_prompts, curriculum)
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
        world = self.accelerator.num_processes
        if rl.problems_per_step % world:
            raise ValueError(f"rl.problems_per_step={rl.problems_per_step} must be divisible by the "
                             f"{world} processes (each rank samples whole groups)")
        self.compute_dtype = compute_dtype  # autocast over fp32 weights (models.loading.mixed_precision)
        self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        if compute_dtype != "float32":  # frozen: stored in the compute dtype, half the memory
            self.reference.to(getattr(torch, compute_dtype))
        critic = ValueModel(policy)
        policy.train()
        critic.train()
        betas = (rl.adam_beta1, rl.adam_beta2)
        opt_p = torch.optim.AdamW(policy.parameters(), lr=rl.policy_lr, betas=betas, eps=rl.adam_eps,
                                  weight_decay=0.0)
        opt_c = torch.optim.AdamW(critic.parameters(), lr=rl.ppo.critic_lr, betas=betas, eps=rl.adam_eps,
                                  weight_decay=0.0)
        sch_p = get_scheduler("constant_with_warmup", opt_p, num_warmup_steps=rl.warmup_steps)
        sch_c = get_scheduler("constant_with_warmup", opt_c, num_warmup_steps=rl.warmup_steps)
        (self.policy, self.critic, self.opt_policy, self.opt_critic, self.sched_policy,
         self.sched_critic) = self.accelerator.prepare(policy, critic, opt_p, opt_c, sch_p, sch_c)
        self.reference.to(self.accelerator.device)
        self.sampling = SamplingSettings(rl.temperature, rl.top_p, rl.max_new_tokens, rl.generation_batch_size)
        self.step = 0  # steps completed

    @property
    def unwrapped_policy(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.policy)

    def _local_problems(self, step: int) -> list[Problem]:
        chosen = problems_for_step(self.problems, step, self.rl.problems_per_step, self.seed)
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        share = len(chosen) // world
        return [p for p in chosen[rank * share:(rank + 1) * share] for _ in range(self.rl.rollouts_per_problem)]

    @torch.no_grad()
    def _score(self, batch: PPOBatch) -> dict[str, torch.Tensor]:
        """Old log-probs, reference log-probs and values, in minibatches (no gradient)."""
        rl = self.rl
        parts: dict[str, list[torch.Tensor]] = {"logp": [], "ref_logp": [], "values": [], "entropy": []}
        self.policy.eval()
        for start in range(0, len(batch), rl.ppo.minibatch_size):
            mb = batch.select(torch.arange(start, min(start + rl.ppo.minibatch_size, len(batch))))
            logp, ent = token_logprobs(self.unwrapped_policy, mb, rl.temperature)
            parts["logp"].append(logp)
            parts["entropy"].append(ent)
            parts["ref_logp"].append(token_logprobs(self.reference, mb, rl.temperature)[0])
            parts["values"].append(token_values(self.accelerator.unwrap_model(self.critic), mb))
        self.policy.train()
        width = batch.actions.shape[1]
        return {k: torch.cat([F.pad(t, (0, width - t.shape[1])) for t in v]) for k, v in parts.items()}

    def _update(self, loss: torch.Tensor, model: nn.Module, optimizer: Any, scheduler: Any) -> None:
        """One optimiser step of ``model`` on ``loss``: backward through accelerate, clip, step, schedule."""
        optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.rl.max_grad_norm > 0:
            self.accelerator.clip_grad_norm_(model.parameters(), self.rl.max_grad_norm)
        optimizer.step()
        scheduler.step()

    def train_step(self) -> tuple[dict[str, Any], list[Rollout]]:
        """Sample, judge, score and optimise once; returns the step's metrics (identical on every rank) and rollouts."""
        with mixed_precision(self.compute_dtype, self.accelerator.device):
            return self._train_step()

    def _train_step(self) -> tuple[dict[str, Any], list[Rollout]]:
        rl, ppo, acc = self.rl, self.rl.ppo, self.accelerator
        t0 = time.perf_counter()
        local = self._local_problems(self.step)
        self.unwrapped_policy.eval()
        seed = self.seed * 1_000_003 + self.step * 1009 + acc.process_index
        rb = collect_rollouts(self.unwrapped_policy, self.tokenizer, local, self.prompts, executor=self.executor,
                              sampling=self.sampling, curriculum=self.curriculum, fgo=self.fgo, seed=seed,
                              reward_table=self.reward_table, sampler=self.sampler)
        t1 = time.perf_counter()
        batch = make_batch(rb.rollouts, self.tokenizer, acc.device)
        old = self._score(batch)
        mask, pmask = batch.completion_mask, batch.policy_mask
        rewards = kl_penalised_rewards(batch.scores, old["logp"], old["ref_logp"], mask, rl.kl_beta, ppo.kl_clip,
                                       ppo.reward_clip)
        advantages, returns = gae(rewards, old["values"], mask, ppo.gamma, ppo.lam)
        if ppo.whiten_advantages:
            advantages = whiten(advantages, pmask)
        sums: dict[str, float] = {}
        n_updates = 0
        gen = torch.Generator().manual_seed(seed)
        for _ in range(rl.update_epochs):
            order = torch.randperm(len(batch), generator=gen).to(acc.device)
            for start in range(0, len(batch), ppo.minibatch_size):
                idx = order[start:start + ppo.minibatch_size]
                mb = batch.select(idx)
                r = mb.actions.shape[1]  # the minibatch's completion width
                new_logp, entropy = token_logprobs(self.policy, mb, rl.temperature)
                p_loss, p_stats = policy_loss(new_logp, old["logp"][idx, :r], advantages[idx, :r], mb.policy_mask,
                                              rl.clip_range)
                self._update(p_loss, self.policy, self.opt_policy, self.sched_policy)
                new_values = token_values(self.critic, mb)
                v_loss, v_clip = value_loss(new_values, old["values"][idx, :r], returns[idx, :r], mb.completion_mask,
                                            ppo.value_clip)
                self._update(v_loss, self.critic, self.opt_critic, self.sched_critic)
                for k, v in {"policy_loss": p_loss.detach(), "value_loss": v_loss.detach(),
                             "value_clip_fraction": v_clip,
                             "entropy": masked_mean(entropy.detach(), mb.completion_mask), **p_stats}.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                n_updates += 1
        t2 = time.perf_counter()
        kl_ref = masked_mean(old["logp"] - old["ref_logp"], mask)
        local_stats = {k: v / max(1, n_updates) for k, v in sums.items()}
        local_stats["kl"] = float(kl_ref)
        local_stats["advantage_mean"] = float(masked_mean(advantages, pmask))
        local_stats["value_mean"] = float(masked_mean(old["values"], mask))
        metrics = step_metrics(rb.summaries, self.curriculum, self.fgo)
        metrics.update(_mean_over_ranks(local_stats, acc))
        gen_time = _max_over_ranks(rb.timings["generation"], acc)
        metrics.update({
            "time/generation": gen_time, "time/execution": _max_over_ranks(rb.timings["execution"], acc),
            "time/masks_prompts": _max_over_ranks(rb.timings["masks_prompts"], acc),
            "time/optimisation": _max_over_ranks(t2 - t1, acc), "time/step": _max_over_ranks(t2 - t0, acc),
            "tokens_per_s": metrics["completion_tokens"] / max(gen_time, 1e-9),
            "lr/policy": self.sched_policy.get_last_lr()[0], "lr/critic": self.sched_critic.get_last_lr()[0],
            "curriculum_moves": float(len(rb.moved)),
        })
        self.step += 1
        return metrics, rb.rollouts

    # ----------------------------------------------------------------------- checkpoints
    def save(self, path: Path) -> None:
        """Policy, critic, both optimisers and schedulers, RNG states (per rank), curriculum state and the step.

        Written into ``<path>.partial`` and renamed when every rank is done: a run killed while saving
        leaves no checkpoint that looks complete.
        """
        acc = self.accelerator
        tmp = path.with_name(path.name + ".partial")
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        tmp.mkdir(parents=True, exist_ok=True)
        torch.save(_rng_state(), tmp / f"rng_rank{acc.process_index}.pt")
        if acc.is_main_process:
            torch.save({
                "step": self.step,
                "policy": acc.unwrap_model(self.policy).state_dict(),
                "critic": acc.unwrap_model(self.critic).state_dict(),
                "opt_policy": self.opt_policy.state_dict(), "opt_critic": self.opt_critic.state_dict(),
                "sched_policy": self.sched_policy.state_dict(), "sched_critic": self.sched_critic.state_dict(),
                "curriculum": self.curriculum.state_dict() if self.curriculum is not None else None,
            }, tmp / "trainer.pt")
        acc.wait_for_everyone()
        if acc.is_main_process:
            shutil.rmtree(path, ignore_errors=True)
            os.rename(tmp, path)
        acc.wait_for_everyone()

    def load(self, path: Path) -> None:
        acc = self.accelerator
        state = torch.load(path / "trainer.pt", map_location=acc.device, weights_only=False)
        acc.unwrap_model(self.policy).load_state_dict(state["policy"])
        acc.unwrap_model(self.critic).load_state_dict(state["critic"])
        self.opt_policy.load_state_dict(state["opt_policy"])
        self.opt_critic.load_state_dict(state["opt_critic"])
        self.sched_policy.load_state_dict(state["sched_policy"])
        self.sched_critic.load_state_dict(state["sched_critic"])
        if self.curriculum is not None:
            self.curriculum.load_state_dict(state["curriculum"])
        self.step = int(state["step"])
        rng = path / f"rng_rank{acc.process_index}.pt"
        if rng.exists():
            _set_rng_state(torch.load(rng, weights_only=False))


def _mean_over_ranks(values: dict[str, float], acc: Any) -> dict[str, float]:
    if acc.num_processes == 1:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=acc.device)
    t = acc.reduce(t, reduction="mean")
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def _max_over_ranks(value: float, acc: Any) -> float:
    if acc.num_processes == 1:
        return value
    t = acc.gather(torch.tensor([value], dtype=torch.float64, device=acc.device))
    return float(t.max())


def _rng_state() -> dict[str, Any]:
    import numpy as np  # lazy: importing this module needs no numpy

    # the legacy global numpy state is what a checkpoint must restore: libraries draw from it
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}  # noqa: NPY002
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    import numpy as np  # lazy: importing this module needs no numpy

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


__all__ = ["PPOBatch", "PPOTrainer", "ValueModel", "gae", "kl_penalised_rewards", "make_batch",
           "masked_mean", "policy_loss", "problems_for_step", "token_logprobs", "token_values", "value_loss", "whiten"]
