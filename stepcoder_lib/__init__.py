"""stepcoder_lib: the library behind the StepCoder notebooks, one folder per stage of the data flow.

The paper's method is in ``method/``: the curriculum (``method/curriculum.py``, CCCS), the
masked loss (``method/masking.py``, FGO) and the reward (``method/reward.py``, Eq. 3); the
executor that judges programs is ``executor/``. The layers, lowest first, are ``settings``,
``executor``, ``data``, ``models``, ``method``, ``training``, ``results``: a module imports only
its own layer or lower ones (``make lint`` checks it with import-linter, see pyproject.toml).
"""

__version__ = "0.1.0"
