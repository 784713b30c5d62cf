"""Results: evaluation (pass@k), its cache, the results table, figures, the notebook-06 driver and ``make reproduce``.

The top layer: it may import every other layer, and nothing imports it.
"""
