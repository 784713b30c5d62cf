"""Models: the tokenizer, the ``tiny`` Llama built here, one loader for every model, prompts, encoding and sampling.

``tiny`` builds the offline base model, ``loading`` loads any model (and sets its compute precision),
``plan`` lays out a run without weights, ``prompts``/``encoding`` turn problems into token ids and
back, ``generation`` samples, ``calibration`` measures the executor's limits on reference programs.
May import ``data``, ``executor`` and ``settings``; never the method, training or results.
"""
