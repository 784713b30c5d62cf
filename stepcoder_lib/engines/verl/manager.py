"""The driver-side agent-loop manager that holds StepCoder's curriculum (CCCS) for a verl run.

verl's ``AgentLoopManager`` splits a step's prompts over agent-loop workers (Ray actors) and
concatenates their outputs in input order. This subclass, on the driver, around that:

1. before generation, stamps every row with its problem's current stage, the canonical prefix and
   the staged prompt's token ids (``seam.stage``: the curriculum lives here, in one process, so
   every rollout of a step sees the same state, as with the native trainers' gathered update);
2. after generation, applies Algorithm 1 to the step's verdicts in batch order (each problem's
   group together, problems in sampling order: the native seam's order on one rank), and puts the
   FGO masks into a (B, R) ``fgo_mask`` tensor beside verl's ``response_mask`` for the trainer.

Validation batches (``meta_info["validate"]``) are plain tasks at stage 0 and move no stage.
``save_curriculum`` / ``load_curriculum`` are what the checkpoint hooks call (``trainer.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from verl.experimental.agent_loop.agent_loop import AgentLoopManager
from verl.protocol import DataProto

from stepcoder_lib.engines.verl import seam
from stepcoder_lib.engines.verl.agent_loop import (
    FGO_FIELD,
    PROBLEM_FIELD,
    REWARD_FIELD,
    STAGE_FIELD,
    STAMP_PREFIX,
    STAMP_PROMPT_IDS,
    STAMP_STAGE,
    VERDICT_FIELD,
)
from stepcoder_lib.engines.verl.data import read_problems, read_task_prompts
from stepcoder_lib.engines.verl.maths import fgo_tensor
from stepcoder_lib.executor import Verdict
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.settings.profiles import CCCSConfig
from stepcoder_lib.training import train

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def make_curriculum(problems: dict[str, Any], stepcoder: Any) -> Curriculum:
    """CCCS over the run's problems with the profile's settings, built as the native run builds it."""
    cfg = stepcoder.curriculum
    cccs = CCCSConfig(alpha=float(cfg.alpha), rho_threshold=float(cfg.rho_threshold),
                      cut_at_line_start=bool(cfg.cut_at_line_start))
    return train.make_curriculum(list(problems.values()), cccs)


class StepCoderAgentLoopManager(AgentLoopManager):
    """verl's manager plus the curriculum: stage before generation, Algorithm 1 after (see the module docstring)."""

    def __init__(self, config: Any, llm_client: Any, teacher_client: Any = None,
                 reward_loop_worker_handles: Any = None, tokenizer: PreTrainedTokenizerBase | None = None) -> None:
        super().__init__(config, llm_client, teacher_client, reward_loop_worker_handles)
        sc = config.stepcoder
        problems = read_problems(sc.problems)
        self.task_prompts = read_task_prompts(sc.task_prompts)
        self.difficulties = {pid: p.difficulty for pid, p in problems.items()}
        self.curriculum: Curriculum | None = make_curriculum(problems, sc) if sc.cccs else None
        if tokenizer is None:
            from verl.utils import hf_tokenizer  # lazy: verl loads only inside its workers

            tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
        self.tokenizer = tokenizer
        self.prompts = seam.stager(tokenizer, self.task_prompts, self.curriculum)
        self.plain_prompts = seam.stager(tokenizer, self.task_prompts, None)  # validation: the whole task
        self.last_moves: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ the step
    def stamp(self, prompts: DataProto) -> None:
        """Stage, prefix and prompt ids of every row, at the curriculum's current state (stage 0 when validating)."""
        if "problem_id" not in prompts.non_tensor_batch:
            raise KeyError("batch rows have no 'problem_id' (write the data with stepcoder_lib.engines.verl.data)")
        ids = [str(x) for x in prompts.non_tensor_batch["problem_id"]]
        validate = bool(prompts.meta_info.get("validate", False))
        staged = seam.stage(self.plain_prompts if validate else self.prompts, ids)
        prompt_ids = np.empty(len(staged), dtype=object)
        prompt_ids[:] = [list(s.prompt_ids) for s in staged]
        prompts.non_tensor_batch[STAMP_STAGE] = np.array([s.stage for s in staged], dtype=np.int64)
        prompts.non_tensor_batch[STAMP_PREFIX] = np.array([s.prefix for s in staged], dtype=object)
        prompts.non_tensor_batch[STAMP_PROMPT_IDS] = prompt_ids

    def judged_rows(self, output: DataProto) -> list[seam.Judged]:
        """The agent loops' results, in batch order, from the extra fields verl carried back."""
        nt = output.non_tensor_batch
        missing = [k for k in (FGO_FIELD, VERDICT_FIELD, STAGE_FIELD, PROBLEM_FIELD, REWARD_FIELD) if k not in nt]
        if missing:
            raise KeyError(f"generation output lacks {missing}: was the StepCoder agent loop used "
                           "(actor_rollout_ref.rollout.agent.default_agent_loop)?")
        return [seam.Judged(str(nt[PROBLEM_FIELD][i]), int(nt[STAGE_FIELD][i]), Verdict(nt[VERDICT_FIELD][i]),
                            float(nt[REWARD_FIELD][i]), tuple(int(m) for m in nt[FGO_FIELD][i]), "")
                for i in range(len(output))]

    def after_generation(self, output: DataProto, validate: bool) -> None:
        """FGO masks into a tensor; Algorithm 1 over the verdicts (training batches with CCCS on)."""
        rows = self.judged_rows(output)
        output.batch["fgo_mask"] = fgo_tensor([r.mask for r in rows], output.batch["response_mask"])
        self.last_moves = {}
        if self.curriculum is not None and not validate:
            self.last_moves = seam.advance(self.curriculum, rows, self.difficulties)

    def generate_sequences(self, prompts: DataProto) -> DataProto:  # type: ignore[override]
        """Stamp, generate through verl's workers (order kept), update the curriculum. Called on the driver."""
        validate = bool(prompts.meta_info.get("validate", False))
        self.stamp(prompts)
        output = super().generate_sequences(prompts)  # verl's auto_await runs the coroutine here
        self.after_generation(output, validate)
        return output

    # ------------------------------------------------------------------------------------------ checkpoints
    def save_curriculum(self, path: str | Path) -> None:
        if self.curriculum is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.curriculum.save(path)

    def load_curriculum(self, path: str | Path) -> None:
        """Restore the state saved with a checkpoint; with CCCS on, a checkpoint without it is an error."""
        if self.curriculum is None:
            return
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: the checkpoint has no curriculum state; resuming CCCS would restart "
                                    "every problem at its first stage")
        self.curriculum.load(path)


__all__ = ["StepCoderAgentLoopManager", "make_curriculum"]
