"""StepCoder's verl agent loop: one rollout = staged prompt ids -> verl's LLM server -> the executor, once.

Registered by name (``stepcoder_agent``) both in-process (``@register``) and through
``configs/verl/agent_loops.yaml``, which verl's agent-loop workers load in their own processes.
Each row arrives with what the manager stamped on it on the driver: the problem id, its CCCS stage,
the canonical prefix and the staged prompt's token ids (``manager.py``). The loop generates
through ``server_manager.generate`` (vLLM at scale; a scripted fake in the tests), judges prefix +
completion through the seam (``seam.judge_completion``) and returns:

* ``reward_score``: Eq. 3 of the verdict, so verl's own reward loop is bypassed (verl skips it when
  an agent loop has set the score) and the reward is the project's, computed once;
* ``response_mask``: all ones, or all zeros for an INVALID_JOB (our data, not the program: out of
  every loss, as the native ``Rollout.trainable``). FGO is NOT here: verl uses this mask for the
  critic, GAE and whitening too;
* extra fields (``EXTRA_FIELDS``): the FGO mask, verdict, stage and problem id, which verl copies
  into the batch's ``non_tensor_batch`` for the manager and the trainer.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.utils.profiler import simple_timer

from stepcoder_lib.engines.verl.data import read_problems
from stepcoder_lib.engines.verl.mapping import AGENT_LOOP_NAME
from stepcoder_lib.engines.verl.seam import StagedPrompt, judge_completion
from stepcoder_lib.executor import Executor, ExecutorConfig

#: The extra fields every StepCoder rollout returns (names in verl's non_tensor_batch).
FGO_FIELD, VERDICT_FIELD, STAGE_FIELD, PROBLEM_FIELD, REWARD_FIELD = (
    "stepcoder_fgo_mask", "stepcoder_verdict", "stepcoder_stage", "stepcoder_problem_id", "stepcoder_reward")
EXTRA_FIELDS = (FGO_FIELD, VERDICT_FIELD, STAGE_FIELD, PROBLEM_FIELD, REWARD_FIELD)
#: What the manager stamps on each row before generation (read here as keyword arguments).
STAMP_STAGE, STAMP_PREFIX, STAMP_PROMPT_IDS = "cccs_stage", "cccs_prefix", "cccs_prompt_ids"


@dataclass
class _WorkerState:
    """Per-process: the problems (tests) and one executor, shared by every rollout this worker runs."""

    problems: dict[str, Any]
    executor: Executor
    fgo: bool


_STATE: dict[tuple[Any, ...], _WorkerState] = {}
_STATE_LOCK = threading.Lock()


def worker_state(stepcoder: Any, agent_workers: int) -> _WorkerState:
    """The process's problems and executor for a ``stepcoder`` config block (built once per process)."""
    ex = stepcoder.executor
    workers = ex.get("workers") or max(1, (os.cpu_count() or 1) // max(1, agent_workers))  # cores shared by loops
    key = (str(stepcoder.problems), bool(stepcoder.fgo), float(ex.time_limit_s), ex.get("memory_limit_mb"), workers)
    with _STATE_LOCK:
        if key not in _STATE:
            config = ExecutorConfig(coverage=bool(stepcoder.fgo), time_limit_s=float(ex.time_limit_s),
                                    memory_limit_mb=ex.get("memory_limit_mb"), workers=workers)
            _STATE[key] = _WorkerState(read_problems(stepcoder.problems), Executor(config), bool(stepcoder.fgo))
        return _STATE[key]


@register(AGENT_LOOP_NAME)
class StepCoderAgentLoop(AgentLoopBase):
    """Generate one completion for a staged CCCS prompt and judge it (see the module docstring)."""

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        state = worker_state(self.config.stepcoder, int(self.rollout_config.agent.num_workers))
        pid = str(kwargs["problem_id"])
        for name in (STAMP_STAGE, STAMP_PREFIX, STAMP_PROMPT_IDS):
            if name not in kwargs:
                raise KeyError(f"problem {pid}: row has no {name!r}; the StepCoder manager stamps it "
                               "(actor_rollout_ref.rollout.agent.agent_loop_manager_class)")
        staged = StagedPrompt(pid, int(kwargs[STAMP_STAGE]), tuple(int(t) for t in kwargs[STAMP_PROMPT_IDS]),
                              str(kwargs[STAMP_PREFIX]))
        limit = int(self.rollout_config.prompt_length)
        if len(staged.prompt_ids) > limit:  # verl would cut it from the left, silently dropping the task statement
            raise ValueError(f"problem {pid}: the prompt at CCCS stage {staged.stage} has {len(staged.prompt_ids)} "
                             f"tokens, more than data.max_prompt_length={limit} "
                             "(model.max_prompt_tokens + rl.max_new_tokens)")
        if pid not in state.problems:
            raise KeyError(f"problem {pid}: not in {self.config.stepcoder.problems}")
        metrics: dict[str, Any] = {}
        with simple_timer("generate_sequences", metrics):
            output = await self.server_manager.generate(request_id=uuid4().hex, prompt_ids=list(staged.prompt_ids),
                                                        sampling_params=sampling_params)
        response_ids = [int(t) for t in output.token_ids][: int(self.rollout_config.response_length)]
        with simple_timer("compute_score", metrics):
            judged = await self.loop.run_in_executor(
                None, lambda: judge_completion(self.tokenizer, state.executor, state.problems[pid], staged,
                                               response_ids, fgo=state.fgo))
        metrics["num_preempted"] = output.num_preempted if output.num_preempted is not None else -1
        logprobs = list(output.log_probs[: len(response_ids)]) if output.log_probs else None
        return AgentLoopOutput(
            prompt_ids=list(staged.prompt_ids), response_ids=response_ids,
            response_mask=[1 if judged.trainable else 0] * len(response_ids), response_logprobs=logprobs,
            reward_score=judged.reward, num_turns=2, metrics=metrics,
            extra_fields={FGO_FIELD: list(judged.mask), VERDICT_FIELD: judged.verdict.value,
                          STAGE_FIELD: judged.stage, PROBLEM_FIELD: pid, REWARD_FIELD: judged.reward,
                          "turn_scores": [], "tool_rewards": []})  # the schema verl's single-turn loop keeps


__all__ = ["EXTRA_FIELDS", "FGO_FIELD", "PROBLEM_FIELD", "REWARD_FIELD", "STAGE_FIELD", "STAMP_PREFIX",
           "STAMP_PROMPT_IDS", "STAMP_STAGE", "VERDICT_FIELD", "StepCoderAgentLoop", "worker_state"]
