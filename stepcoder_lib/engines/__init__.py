"""Other engines for the same method: ``verl`` runs StepCoder's PPO at scale (its own venv; see the README).

A top layer beside ``results``: an engine is built on ``training`` (the rollout seam, PPO's maths,
the run's data) and everything below it, and nothing imports an engine: ``training.train`` hands
``--engine verl`` to ``python -m stepcoder_lib.engines.verl.launch`` in a process of its own.
"""
