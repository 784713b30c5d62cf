"""The rollout seam: CCCS prompt -> completion -> program -> executor -> reward -> FGO mask -> curriculum update."""

from __future__ import annotations

import pytest
from rl_helpers import DEAD_CODE, ScriptedSampler, smoke_problems

from stepcoder_lib.executor import Executor, ExecutorConfig, Verdict
from stepcoder_lib.method.masking import completion_offsets
from stepcoder_lib.method.reward import RewardTable, reward_of
from stepcoder_lib.models.encoding import decode, encode
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.rollout import SamplingSettings, StagePrompts, collect_rollouts, step_metrics
from stepcoder_lib.training.train import make_curriculum, task_prompt


@pytest.fixture(scope="module")
def setup():
    problems = smoke_problems(8)
    profile = get_profile("smoke")
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        yield problems, prompts, ex


def test_stage_prompts_are_token_aligned_prefixes_at_the_current_stage(setup) -> None:
    problems, prompts, _ = setup
    tok = tiny_tokenizer()
    cur = make_curriculum(problems, get_profile("smoke").rl.cccs)
    ids = [p.id for p in problems]
    staged = StagePrompts(tok, prompts, cur)(ids)
    for s, p in zip(staged, problems):
        joint = encode(tok, prompts[p.id] + p.canonical_solution)
        assert s.stage == cur.stage(p.id) and p.canonical_solution.startswith(s.prefix)
        assert cur.prefix_for(p.id).startswith(s.prefix)  # the cut moves back to a token start, never forward
        assert decode(tok, s.prompt_ids) == prompts[p.id] + s.prefix
        if s.stage > 0:
            assert list(s.prompt_ids) == joint[: len(s.prompt_ids)]
    assert any(s.stage > 0 for s in staged)  # training starts with prefixes
    plain = StagePrompts(tok, prompts, None)(ids)  # CCCS off: the task as evaluation encodes it
    assert all(s.stage == 0 and s.prefix == "" and list(s.prompt_ids) == encode(tok, prompts[i])
               for s, i in zip(plain, ids))


def test_reward_is_the_papers_table_of_the_verdict() -> None:
    assert [reward_of(v) for v in (Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR, Verdict.TIMEOUT,
                                   Verdict.COMPILE_ERROR, Verdict.INVALID_JOB)] == [1.0, -0.3, -0.6, -0.6, -1.0, 0.0]
    assert reward_of(Verdict.PASSED, RewardTable(passed=0.5)) == 0.5


@pytest.mark.parametrize("cccs,fgo", [(True, True), (False, False)])
def test_collect_rollouts_judges_prefix_plus_completion_and_masks_unexecuted_tokens(setup, cccs, fgo) -> None:
    problems, prompts, ex = setup
    tok = tiny_tokenizer()
    cur = make_curriculum(problems, get_profile("smoke").rl.cccs) if cccs else None
    batch = [p for p in problems for _ in range(4)]
    sampler = ScriptedSampler(problems, prompts, pass_prob=0.5)
    rb = collect_rollouts(None, tok, batch, StagePrompts(tok, prompts, cur), executor=ex,
                          sampling=SamplingSettings(max_new_tokens=512), curriculum=cur, fgo=fgo, seed=3,
                          sampler=sampler)
    assert len(rb.rollouts) == len(rb.summaries) == len(batch)
    verdicts = {r.verdict for r in rb.rollouts}
    assert Verdict.PASSED in verdicts and len(verdicts) > 1
    for r, p in zip(rb.rollouts, batch):
        assert r.problem_id == p.id and decode(tok, r.prompt_ids) == prompts[p.id] + r.prefix
        assert r.program == r.prefix + r.completion
        assert (r.prefix != "") == (cccs and r.stage > 0)
        assert r.token_ids[-1] == tok.eos_token_id and r.finished
        assert len(r.mask) == len(r.token_ids) and r.reward == reward_of(r.verdict)
        assert r.result.coverage or not fgo  # FGO needs executed lines
        if r.verdict == Verdict.PASSED:
            assert r.program.endswith(DEAD_CODE.rstrip("\n")) or r.program.rstrip("\n").endswith(DEAD_CODE.rstrip("\n"))
            if fgo:  # the helper's body never ran: its tokens are out of the loss; its def line and the rest ran
                text, offsets = completion_offsets(tok, r.token_ids, r.prompt_ids)
                body, head = text.index("    total = 0"), text.index("def unused_helper")
                in_body = [m for m, (a, b) in zip(r.mask, offsets) if a >= body and b > a]
                before = [m for m, (a, b) in zip(r.mask, offsets) if b <= head]
                assert in_body and set(in_body) == {0} and set(before) == {1} and r.mask[-1] == 1  # EOS kept
        if not fgo or r.verdict == Verdict.COMPILE_ERROR:
            assert set(r.mask) == {1}
    m = step_metrics(rb.summaries, cur, fgo)
    assert m["pass_rate"] == sum(r.verdict == Verdict.PASSED for r in rb.rollouts) / len(batch)
    assert m["reward_mean"] == pytest.approx(sum(r.reward for r in rb.rollouts) / len(batch))
    assert ("fgo_kept_share" in m) == fgo and (0 < m["fgo_kept_share"] < 1 if fgo else True)
    assert ("stage_mean" in m) == cccs


def test_the_curriculum_moves_on_passes_counted_from_verdicts_even_with_a_scaled_reward(setup) -> None:
    """RewardTable(passed=0.5): the reward is never 1, yet passes still move stages (they count from the verdict)."""
    problems, prompts, ex = setup
    tok = tiny_tokenizer()
    cur = make_curriculum(problems, get_profile("smoke").rl.cccs)
    start = cur.stages()
    batch = [p for p in problems for _ in range(16)]  # 16 passes in a row move a stage with the default alpha
    rb = collect_rollouts(None, tok, batch, StagePrompts(tok, prompts, cur), executor=ex,
                          sampling=SamplingSettings(max_new_tokens=512),
                          curriculum=cur, fgo=False, seed=0, reward_table=RewardTable(passed=0.5),
                          sampler=ScriptedSampler(problems, prompts, pass_prob=1.0))
    assert {r.reward for r in rb.rollouts if r.verdict == Verdict.PASSED} == {0.5}
    assert rb.moved and all(cur.stage(pid) == start[pid] - 1 for pid in rb.moved)
    assert all(start[pid] == 0 or pid in rb.moved for pid in start
               if all(r.verdict == Verdict.PASSED for r in rb.rollouts if r.problem_id == pid))


def test_every_profile_cuts_at_the_conditional_then_moves_to_its_token(setup) -> None:
    """The paper's cut (the conditional's keyword) everywhere; the prompt starts the keyword's token."""
    problems, prompts, _ = setup
    tok = tiny_tokenizer()
    for name in ("smoke", "tiny", "small", "paper"):
        assert not get_profile(name).rl.cccs.cut_at_line_start, name
    cur = make_curriculum(problems, get_profile("tiny").rl.cccs)
    deep = [p for p in problems if cur.stage(p.id) > 0]
    assert deep
    for p in deep:
        text_cut = cur.prefix_for(p.id)
        assert p.canonical_solution[len(text_cut):].startswith(("if", "elif"))
        s = StagePrompts(tok, prompts, cur).at(p.id, cur.stage(p.id))
        rest = p.canonical_solution[len(s.prefix):]
        assert rest.lstrip(" ").startswith(("if", "elif")) and len(s.prefix) <= len(text_cut)
        if text_cut.endswith(" "):  # an indented conditional: byte-level BPE's " if" takes the last space with it
            assert len(s.prefix) < len(text_cut)


class _JudgeFailsOnce:
    """The real executor, except that its judge fails on one job (as a worker that died twice reports)."""

    def __init__(self, executor: Executor, fail_index: int) -> None:
        self.executor, self.fail_index = executor, fail_index

    def run_batch(self, jobs, progress=False):
        from stepcoder_lib.executor import ExecutionResult

        results = self.executor.run_batch(jobs, progress=progress)
        results[self.fail_index] = ExecutionResult(problem_id=jobs[self.fail_index].problem_id,
                                                   verdict=Verdict.JUDGE_ERROR,
                                                   error="the worker died twice on this job")
        return results


def test_a_judge_error_under_fgo_neither_crashes_nor_enters_the_loss(setup) -> None:
    from stepcoder_lib.training.ppo import make_batch

    problems, prompts, ex = setup
    tok = tiny_tokenizer()
    cur = make_curriculum(problems, get_profile("smoke").rl.cccs)
    deep = next(p for p in problems if cur.stage(p.id) > 0)
    batch = [deep] * 17  # 16 judged passes in a row move the stage (alpha 0.1); the unjudged one must not break them
    start = cur.stage(deep.id)
    rb = collect_rollouts(None, tok, batch, StagePrompts(tok, prompts, cur), executor=_JudgeFailsOnce(ex, 5),
                          sampling=SamplingSettings(max_new_tokens=512), curriculum=cur, fgo=True, seed=0,
                          sampler=ScriptedSampler(problems, prompts, pass_prob=1.0))
    bad = rb.rollouts[5]
    assert bad.verdict == Verdict.JUDGE_ERROR and not bad.trainable and set(bad.mask) == {0}
    assert all(r.trainable and r.verdict == Verdict.PASSED for i, r in enumerate(rb.rollouts) if i != 5)
    ppo_batch = make_batch(rb.rollouts, tok)
    assert ppo_batch.policy_mask[5].sum() == 0 and ppo_batch.completion_mask[5].sum() == 0
    assert all(ppo_batch.policy_mask[i].sum() > 0 for i in range(17) if i != 5)
    m = step_metrics(rb.summaries, cur, True)
    assert m["unjudged"] == 1.0 and m["reward_mean"] == 1.0  # the mean is over judged rollouts
    assert cur.stage(deep.id) == start - 1  # counted as a failure, it would have reset the streak: no move
