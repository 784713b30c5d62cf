"""The verl run's entry point: verl's ``main_ppo`` (Hydra, its ``ppo_trainer`` config) with StepCoder's trainer.

    .venv-verl/bin/python -m stepcoder_lib.engines.verl.main <overrides>     # what train --engine verl runs

verl's own entry point is ``python -m verl.trainer.main_ppo``; its v0 path (``trainer.use_v1=false``)
starts ``main_ppo_v0.TaskRunner`` as a Ray actor, whose ``run`` names ``RayPPOTrainer`` directly.
``StepCoderTaskRunner`` is that runner with one difference: inside its own actor process (which
exists for this one run) the name is bound to ``StepCoderPPOTrainer`` before the inherited ``run``
builds the trainer. Everything else (workers, resource pools, datasets, validation) is verl's.
"""

from __future__ import annotations

from typing import Any

import hydra
import ray
from verl.trainer import main_ppo_v0
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils.config import validate_config
from verl.utils.device import auto_set_device


@ray.remote(num_cpus=1)
class StepCoderTaskRunner(main_ppo_v0.TaskRunner.__ray_actor_class__):  # type: ignore[name-defined,misc]
    """verl's v0 task runner, building ``StepCoderPPOTrainer`` (see the module docstring)."""

    def run(self, config: Any) -> Any:
        from stepcoder_lib.engines.verl.trainer import StepCoderPPOTrainer

        main_ppo_v0.RayPPOTrainer = StepCoderPPOTrainer  # this actor's process only
        return super().run(config)


@hydra.main(config_path="pkg://verl.trainer.config", config_name="ppo_trainer", version_base=None)
def main(config: Any) -> None:
    """verl's ``main_ppo.main`` with the StepCoder runner (the v0 path only: the overrides set use_v1=false)."""
    from verl.trainer.main_ppo import run_ppo

    auto_set_device(config)
    if config.trainer.use_v1:
        raise SystemExit("StepCoder's verl run uses the RayPPOTrainer path: set trainer.use_v1=false")
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    run_ppo(config, task_runner_class=StepCoderTaskRunner)


if __name__ == "__main__":
    main()
