"""The paper's method: CCCS (``curriculum``), FGO (``masking``), the reward of Eq. 3 (``reward``), pictures (``viz``).

Plain functions over programs, verdicts and token ids, with no trainer in them: the trainers in
``training`` call them. May import ``models``, ``data``, ``executor`` and ``settings``, never
``training`` or ``results``.
"""
