"""Other engines for the same method: ``verl`` runs StepCoder's PPO at scale (its own venv; see the README).

A top layer beside ``results``: an engine is built on ``training`` (the rollout seam, PPO's maths,
the run's data) and everything below it, and nothing imports an engine, except ``training.train``
handing ``--engine verl`` to ``verl.launch`` (the one exception declared in pyproject.toml).
"""
