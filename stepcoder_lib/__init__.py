"""stepcoder_lib: the thin library behind the StepCoder notebooks.

One idea per module: ``executor`` (sandboxed verdicts, rewards, coverage), ``testcases`` (the
normalised unit-test form every loader produces), ``data`` (loaders, APPS+ cleaning, the
offline benchmark), ``curriculum`` (CCCS), ``masking`` (FGO) and ``viz`` (what notebooks show).
"""

__version__ = "0.1.0"
