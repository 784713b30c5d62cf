"""Other engines for the same method: ``verl`` runs StepCoder's PPO at scale (its own venv; see the README)."""
