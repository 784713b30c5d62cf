"""PPO's pieces against hand computations, and where its gradient may and may not flow."""

from __future__ import annotations

import pytest
import torch
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems

from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.ppo import (
    ValueModel,
    completion_logits,
    gae,
    kl_penalised_rewards,
    make_batch,
    policy_loss,
    token_logprobs,
    token_values,
    value_loss,
    whiten,
)
from stepcoder_lib.training.rollout import SamplingSettings, StagePrompts, collect_rollouts
from stepcoder_lib.training.train import make_curriculum, task_prompt


def test_gae_matches_the_recursion_by_hand() -> None:
    rewards = torch.tensor([[0.1, -0.2, 1.0, 0.0], [0.0, 0.5, 0.0, 0.0]])
    values = torch.tensor([[0.3, 0.1, -0.4, 9.0], [1.0, 2.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0]])
    gamma, lam = 0.9, 0.8
    adv, ret = gae(rewards, values, mask, gamma, lam)
    for b in range(2):
        n = int(mask[b].sum())
        expected, running = [0.0] * 4, 0.0
        for t in reversed(range(n)):
            nxt = float(values[b, t + 1]) if t + 1 < n else 0.0
            running = float(rewards[b, t]) + gamma * nxt - float(values[b, t]) + gamma * lam * running
            expected[t] = running
        assert adv[b].tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.allclose(ret * mask, (adv + values) * mask)


def test_reward_is_the_score_on_the_last_token_minus_a_clipped_token_kl() -> None:
    logp = torch.tensor([[-1.0, -2.0, -0.5]])
    ref = torch.tensor([[-1.5, -0.1, -0.5]])  # log-ratios 0.5, -1.9 (clipped to -0.8), 0
    r = kl_penalised_rewards(torch.tensor([1.0]), logp, ref, torch.ones(1, 3), beta=0.05, kl_clip=0.8, reward_clip=10)
    assert r[0].tolist() == pytest.approx([-0.025, 0.04, 1.0])
    r = kl_penalised_rewards(torch.tensor([-30.0]), logp, ref, torch.tensor([[1.0, 1, 0]]), 0.05, 0.8, 10.0)
    assert r[0].tolist() == pytest.approx([-0.025, 0.04 - 10.0, 0.0])  # last real token, reward clipped


def test_whiten_uses_only_the_masked_entries() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    w = whiten(x, torch.tensor([[1.0, 1, 1, 0]]))
    assert w[0, :3].mean().abs() < 1e-6 and w[0, 3] == 0 and w[0, :3].std(unbiased=False) == pytest.approx(1, abs=1e-4)


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Real rollouts with CCCS prefixes and FGO masks (scripted completions), and a real tiny model."""
    problems = smoke_problems(6)
    profile = get_profile("smoke")
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    model, tok = load_policy(save_tiny_model(tmp_path_factory.mktemp("sft") / "m"), profile)
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        cur = make_curriculum(problems, profile.rl.cccs)
        rb = collect_rollouts(model, tok, [p for p in problems for _ in range(2)], StagePrompts(tok, prompts, cur),
                              executor=ex, sampling=SamplingSettings(max_new_tokens=512), curriculum=cur, fgo=True,
                              seed=1,
                              sampler=ScriptedSampler(problems, prompts, pass_prob=0.7))
    return model, tok, prompts, rb.rollouts


class HiddenGrad:
    """Keeps the final norm's output of the last forward so its gradient can be read per position.

    That output at position t feeds only the logits at t, which score token t+1: its gradient is
    zero exactly when no loss term involves the log-prob of token t+1.
    """

    def __init__(self, norm: torch.nn.Module) -> None:
        self.out: torch.Tensor | None = None
        self.handle = norm.register_forward_hook(self.keep)

    def keep(self, module, args, output) -> None:
        if output.requires_grad:
            output.retain_grad()
            self.out = output

    def per_position(self) -> torch.Tensor:
        self.handle.remove()
        return self.out.grad.abs().sum(-1)


def expected_pattern(rollouts, tok, prompts, width: int):
    """Per row: positions that must get gradient (predicting kept completion tokens) and must not (all others)."""
    rows = []
    for r in rollouts:
        p = len(r.prompt_ids)
        kept = {p - 1 + j for j, m in enumerate(r.mask) if m}
        rows.append((p, kept, set(range(width)) - kept))
    return rows


def test_policy_gradient_is_exactly_zero_on_prefix_and_unexecuted_tokens_and_nonzero_elsewhere(judged) -> None:
    model, tok, prompts, rollouts = judged
    assert any(r.prefix for r in rollouts) and any(0 in r.mask for r in rollouts)  # both cases are present
    batch = make_batch(rollouts, tok)
    hook = HiddenGrad(model.model.norm)
    new_logp, _ = token_logprobs(model, batch, temperature=0.8)
    advantages = torch.randn(new_logp.shape, generator=torch.Generator().manual_seed(0))
    loss, _ = policy_loss(new_logp, new_logp.detach(), advantages, batch.policy_mask, clip_range=0.2)
    model.zero_grad()
    loss.backward()
    grad = hook.per_position()
    for b, (p, kept, rest) in enumerate(expected_pattern(rollouts, tok, prompts, grad.shape[1])):
        prefix_positions = range(len(tok(prompts[rollouts[b].problem_id], add_special_tokens=False)["input_ids"]) - 1,
                                 p - 1)
        assert all(grad[b, t] == 0 for t in prefix_positions)  # the CCCS prefix: exactly zero
        assert all(grad[b, t] == 0 for t in rest)  # and every other non-kept position
        assert all(grad[b, t] > 0 for t in kept)  # executed completion tokens carry gradient


def test_critic_loss_is_not_masked_by_fgo(judged) -> None:
    """The documented choice: the critic learns values on unexecuted tokens too (GAE bootstraps through them)."""
    model, tok, _, rollouts = judged
    batch = make_batch(rollouts, tok)
    critic = ValueModel(model)
    torch.nn.init.normal_(critic.head.weight, std=0.1)
    hook = HiddenGrad(critic.body.norm)
    values = token_values(critic, batch)
    loss, _ = value_loss(values, values.detach(), torch.randn(values.shape), batch.completion_mask, value_clip=0.2)
    loss.backward()
    grad = hook.per_position()
    masked = [(b, j) for b, r in enumerate(rollouts) for j, m in enumerate(r.mask) if m == 0]
    assert masked
    for b, j in masked:
        assert grad[b, int(batch.positions[b, j])] > 0


class _Wrapped(torch.nn.Module):
    """The same model behind a plain forward (as a distributed wrapper is): the full-forward path."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, **kwargs):
        return self.model(**kwargs)


def test_head_on_completion_positions_equals_the_full_forward(judged) -> None:
    """The LM head applied to the completion positions only gives the full forward's logits there."""
    model, tok, _, rollouts = judged
    batch = make_batch(rollouts, tok)
    with torch.no_grad():
        fast = completion_logits(model, batch)
        full = completion_logits(_Wrapped(model), batch)
    assert fast.shape == full.shape == (*batch.actions.shape, len(tok))
    assert torch.allclose(fast, full, atol=1e-5, rtol=1e-5)
    assert torch.allclose(token_logprobs(model, batch, 0.8)[0], token_logprobs(_Wrapped(model), batch, 0.8)[0],
                          atol=1e-5)


def test_a_minibatch_is_cut_to_its_own_lengths_and_its_log_probs_do_not_change(judged) -> None:
    """``select`` drops the padding its rows do not need; each row's log-probs equal those in the full batch."""
    model, tok, _, rollouts = judged
    batch = make_batch(rollouts, tok)
    lengths = batch.attention_mask.sum(1)
    short = torch.argsort(lengths)[:2]  # the two shortest sequences
    mb = batch.select(short)
    assert mb.input_ids.shape[1] == int(lengths[short].max()) < batch.input_ids.shape[1]
    n_tokens = [len(rollouts[int(i)].token_ids) for i in short]
    assert mb.actions.shape[1] == max(n_tokens) and mb.actions.shape[1] <= batch.actions.shape[1]
    with torch.no_grad():
        whole, _ = token_logprobs(model, batch, 0.8)
        cut, _ = token_logprobs(model, mb, 0.8)
    for row, i in enumerate(short):
        n = n_tokens[row]
        assert torch.allclose(cut[row, :n], whole[int(i), :n], atol=1e-5)
