"""Settings: the profiles (every hyperparameter of a run), where files go, the build cache, progress bars,
and the notebooks' plumbing (``lab``: JupyterLab on the paired notebooks; ``chapters``: a library
function's source shown under its equation, and each notebook's generated "What we saw").

The lowest layer: everything else may import it, and it imports nothing else from ``stepcoder_lib``.
"""
