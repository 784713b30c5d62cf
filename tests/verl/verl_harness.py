"""verl's real rollout path on CPU, with only the LLM server faked (the pattern of verl's own ``*_on_cpu`` tests).

Real: verl's config (Hydra, ``ppo_trainer`` + this project's overrides), its ``RLHFDataset`` and
``collate_fn`` over the parquet file this project writes, ``RayPPOTrainer._get_gen_batch``, an
``AgentLoopWorker`` (instantiating the StepCoder loop from the registry file, padding, extra
fields into ``DataProto``), the StepCoder manager, the tiny tokenizer and model folder, the
executor. Faked: the LLM server (``ScriptedServer``: completions from ``rl_helpers.ScriptedSampler``,
returned as token ids with EOS, as vLLM returns them) and Ray (the manager's worker handle calls
the worker in-process). ``ReplaySampler`` feeds the same token ids to the native seam.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems

from stepcoder_lib.engines.verl.data import write_verl_data
from stepcoder_lib.engines.verl.mapping import Launch, verl_overrides
from stepcoder_lib.models.encoding import decode_after
from stepcoder_lib.models.generation import Completion
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.train import task_prompt

#: The smoke profile, with room for the scripted solutions and a curriculum that moves within a group of 4.
OVERRIDES = {"rl.max_new_tokens": 256, "rl.problems_per_step": 2, "rl.rollouts_per_problem": 4,
             "rl.ppo.minibatch_size": 8, "rl.cccs.alpha": 0.5, "rl.cccs.rho_threshold": 0.7,
             "rl.cccs.cut_at_line_start": True, "executor.time_limit_s": 1.0}


def profile() -> Any:
    return get_profile("smoke", OVERRIDES)


def compose_config(tmp: Path, *, cccs: bool = True, fgo: bool = True, n_problems: int = 4) -> tuple[Any, list[Any]]:
    """verl's composed config for a tiny run in ``tmp`` (model folder, data files), and the problems."""
    from hydra import compose, initialize_config_module

    prof = profile()
    model = save_tiny_model(tmp / "sft")
    problems = smoke_problems(n_problems)
    write_verl_data(problems, {p.id: task_prompt(p, prof) for p in problems}, tmp / "data")
    launch = Launch(sft_path=str(model), data_dir=str(tmp / "data"), run_dir=str(tmp / "run"), n_gpus_per_node=1)
    overrides = [*verl_overrides(prof, launch, cccs=cccs, fgo=fgo, seed=0), "trainer.device=cpu",
                 "actor_rollout_ref.rollout.agent.num_workers=1", "+stepcoder.executor.workers=2"]
    overrides = [o for o in overrides if not o.startswith("+stepcoder.executor.workers=null")]
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides), problems


class ScriptedServer:
    """verl's ``LLMServerClient.generate``, answered by the scripted policy; records every (prompt, response)."""

    def __init__(self, tokenizer: Any, problems: list[Any], task_prompts: dict[str, str], max_new_tokens: int,
                 pass_prob: float = 0.7) -> None:
        self.tokenizer, self.max_new_tokens = tokenizer, max_new_tokens
        self.policy = ScriptedSampler(problems, task_prompts, pass_prob=pass_prob)
        self.calls: list[tuple[list[int], list[int]]] = []

    async def generate(self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any],
                       **kwargs: Any) -> Any:
        from verl.workers.rollout.replica import TokenOutput

        c = self.policy(None, self.tokenizer, [list(prompt_ids)], n=1, max_new_tokens=self.max_new_tokens,
                        seed=len(self.calls))[0][0]
        ids = list(c.token_ids) + ([self.tokenizer.eos_token_id] if c.finished else [])  # vLLM keeps the EOS id
        self.calls.append((list(prompt_ids), ids))
        return TokenOutput(token_ids=ids, stop_reason="completed")


class ReplaySampler:
    """``sample_completions``'s signature for the native seam: the ScriptedServer's responses, prompt by prompt."""

    def __init__(self, tokenizer: Any, calls: list[tuple[list[int], list[int]]]) -> None:
        self.queues: dict[tuple[int, ...], list[list[int]]] = defaultdict(list)
        for prompt, response in calls:
            self.queues[tuple(prompt)].append(response)
        self.eos = tokenizer.eos_token_id

    def __call__(self, model: Any, tokenizer: Any, prompts: list[Any], **kw: Any) -> list[list[Completion]]:
        out = []
        for i, ids in enumerate(prompts):  # the seam sends token-aligned prompt ids
            queue = self.queues[tuple(int(t) for t in ids)]
            if not queue:
                raise AssertionError(f"the native seam asked for prompt {i}, which verl never staged")
            response = queue.pop(0)
            finished = bool(response) and response[-1] == self.eos
            body = response[:-1] if finished else response
            out.append([Completion(i, decode_after(tokenizer, ids, body), tuple(body), finished)])
        return out


class LocalWorker:
    """A Ray actor handle's shape (``handle.generate_sequences.remote(batch)``), calling the worker in-process."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.generate_sequences = self

    def remote(self, batch: Any) -> Any:
        return self.worker.generate_sequences(batch)


def make_manager(config: Any, server: ScriptedServer) -> Any:
    """The StepCoder manager with one real ``AgentLoopWorker`` behind a local handle (no Ray cluster)."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker

    from stepcoder_lib.engines.verl.manager import StepCoderAgentLoopManager

    manager = StepCoderAgentLoopManager(config, llm_client=server, tokenizer=server.tokenizer)
    manager.agent_loop_workers = [LocalWorker(AgentLoopWorker(config, server))]
    return manager


def step_batch(config: Any, tokenizer: Any, rows: list[int], step: int) -> tuple[Any, Any]:
    """(batch, generation batch) of one step, as ``RayPPOTrainer.fit`` builds them from the dataloader."""
    from verl.protocol import DataProto
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    dataset = RLHFDataset(config.data.train_files, tokenizer, config.data)
    batch = DataProto.from_single_dict(collate_fn([dataset[i] for i in rows]))
    batch.non_tensor_batch["uid"] = np.array([str(uuid.UUID(int=step * 1000 + i)) for i in range(len(rows))],
                                             dtype=object)
    gen = RayPPOTrainer._get_gen_batch(None, batch)  # uses no trainer state  # type: ignore[arg-type]
    gen.meta_info["global_steps"] = step
    n = int(config.actor_rollout_ref.rollout.n)
    return batch.repeat(repeat_times=n, interleave=True), gen.repeat(repeat_times=n, interleave=True)


def rows_for_step(step: int, n_problems: int, per_step: int) -> list[int]:
    return [(step * per_step + i) % n_problems for i in range(per_step)]
