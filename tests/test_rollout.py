"""The rollout seam: CCCS prompt -> completion -> program -> executor -> reward -> FGO mask -> curriculum update."""

from __future__ import annotations

import pytest
from rl_helpers import DEAD_CODE, ScriptedSampler, smoke_problems

from stepcoder_lib.executor import Executor, ExecutorConfig, RewardTable, Verdict
from stepcoder_lib.masking import completion_offsets
from stepcoder_lib.profiles import get_profile
from stepcoder_lib.rollout import SamplingSettings, collect_rollouts, reward_of, stage_prompts, step_metrics
from stepcoder_lib.tokenizer import tiny_tokenizer
from stepcoder_lib.train import make_curriculum, task_prompt


@pytest.fixture(scope="module")
def setup():
    problems = smoke_problems(8)
    profile = get_profile("smoke")
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        yield problems, prompts, ex


def test_stage_prompts_append_the_prefix_of_the_current_stage(setup) -> None:
    problems, prompts, _ = setup
    cur = make_curriculum(problems, get_profile("smoke").rl)
    ids = [p.id for p in problems]
    for (prompt, prefix, stage), p in zip(stage_prompts(ids, prompts, cur), problems):
        assert stage == cur.stage(p.id) and prefix == cur.prefix_for(p.id)
        assert prompt == prompts[p.id] + prefix and p.canonical_solution.startswith(prefix)
    assert any(stage > 0 for _, _, stage in stage_prompts(ids, prompts, cur))  # training starts with prefixes
    assert all(s == (prompts[i], "", 0) for s, i in zip(stage_prompts(ids, prompts, None), ids))  # CCCS off


def test_reward_is_the_papers_table_of_the_verdict() -> None:
    assert [reward_of(v) for v in (Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR, Verdict.TIMEOUT,
                                   Verdict.COMPILE_ERROR, Verdict.INVALID_JOB)] == [1.0, -0.3, -0.6, -0.6, -1.0, 0.0]
    assert reward_of(Verdict.PASSED, RewardTable(passed=0.5)) == 0.5


@pytest.mark.parametrize("cccs,fgo", [(True, True), (False, False)])
def test_collect_rollouts_judges_prefix_plus_completion_and_masks_unexecuted_tokens(setup, cccs, fgo) -> None:
    problems, prompts, ex = setup
    tok = tiny_tokenizer()
    cur = make_curriculum(problems, get_profile("smoke").rl) if cccs else None
    batch = [p for p in problems for _ in range(4)]
    sampler = ScriptedSampler(problems, prompts, pass_prob=0.5)
    rb = collect_rollouts(None, tok, batch, prompts, executor=ex, sampling=SamplingSettings(max_new_tokens=512),
                          curriculum=cur, fgo=fgo, seed=3, sampler=sampler)
    assert len(rb.rollouts) == len(rb.summaries) == len(batch)
    verdicts = {r.verdict for r in rb.rollouts}
    assert Verdict.PASSED in verdicts and len(verdicts) > 1
    for r, p in zip(rb.rollouts, batch):
        assert r.problem_id == p.id and r.prompt == prompts[p.id] + r.prefix
        assert (r.prefix != "") == (cccs and r.stage > 0)
        assert r.token_ids[-1] == tok.eos_token_id and r.finished
        assert len(r.mask) == len(r.token_ids) and r.reward == reward_of(r.verdict)
        assert r.result.coverage or not fgo  # FGO needs executed lines
        if r.verdict == Verdict.PASSED:
            assert r.program.endswith(DEAD_CODE.rstrip("\n")) or r.program.rstrip("\n").endswith(DEAD_CODE.rstrip("\n"))
            if fgo:  # the helper's body never ran: its tokens are out of the loss; its def line and the rest ran
                text, offsets = completion_offsets(tok, r.token_ids)
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
    cur = make_curriculum(problems, get_profile("smoke").rl)
    start = cur.stages()
    batch = [p for p in problems for _ in range(16)]  # 16 passes in a row move a stage with the default alpha
    rb = collect_rollouts(None, tok, batch, prompts, executor=ex, sampling=SamplingSettings(max_new_tokens=512),
                          curriculum=cur, fgo=False, seed=0, reward_table=RewardTable(passed=0.5),
                          sampler=ScriptedSampler(problems, prompts, pass_prob=1.0))
    assert {r.reward for r in rb.rollouts if r.verdict == Verdict.PASSED} == {0.5}
    assert rb.moved and all(cur.stage(pid) == start[pid] - 1 for pid in rb.moved)
    assert all(start[pid] == 0 or pid in rb.moved for pid in start
               if all(r.verdict == Verdict.PASSED for r in rb.rollouts if r.problem_id == pid))


def test_tiny_cuts_the_prefix_at_the_line_start_and_paper_at_the_keyword(setup) -> None:
    """``rl.cccs_cut_at_line_start``: tiny's prompts end at a line break, the paper's at the conditional's keyword."""
    problems, _, _ = setup
    tiny = make_curriculum(problems, get_profile("tiny").rl)
    paper = make_curriculum(problems, get_profile("paper").rl)
    deep = [p for p in problems if tiny.stage(p.id) > 0]
    assert deep
    for p in deep:
        assert tiny.prefix_for(p.id).endswith("\n")
        assert paper.prefix_for(p.id).lstrip("\n").split("\n")[-1].strip() == ""  # indentation only, before `if`
        assert p.canonical_solution[len(paper.prefix_for(p.id)):].startswith(("if", "elif"))
