"""StepCoder's PPO on verl (pinned ``verl==0.9.1``, its own venv: ``make verl-venv``).

Nothing else in ``stepcoder_lib`` imports this package. Modules that import verl: ``agent_loop``
(the rollout: staged prompt ids -> vLLM -> executor -> reward, FGO mask, verdict), ``manager``
(the curriculum on the driver), ``trainer`` (FGO in the policy loss only, the clipped KL,
curriculum.json beside each checkpoint) and ``main`` (the Hydra entry point). Modules that do not,
and so also run in the project's own venv: ``mapping`` (profile -> verl overrides), ``maths`` (the
trainer's tensor maths), ``seam`` (the adapter to ``stepcoder_lib.rollout``) and ``data``.
"""
