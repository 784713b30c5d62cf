"""Training: the rollout seam (prompt -> completion -> verdict -> reward -> mask), PPO, GRPO, SFT, the CLI, run logs.

``rollout`` is the one path from a policy's tokens to judged, masked rollouts, shared by ``ppo``
(the native trainer) and ``grpo`` (TRL's); ``sft`` trains the baseline; ``train`` is the command
line (``python -m stepcoder_lib.training.train``); ``runs``/``runlog``/``runplots`` find, log and
plot runs. May import ``method`` and every layer below it; never ``results``.
"""
