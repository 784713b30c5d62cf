"""Settings: the profiles (every hyperparameter of a run), where files go, the build cache, progress bars.

The lowest layer: everything else may import it, and it imports nothing else from ``stepcoder_lib``.
"""
