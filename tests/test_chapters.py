"""The notebooks' chapter helpers: code shown from the library's own source, summaries built from values."""

from __future__ import annotations

import inspect

import pytest

from stepcoder_lib.method.masking import apply_token_mask
from stepcoder_lib.settings.chapters import show_source, source_markdown, what_we_saw
from stepcoder_lib.training.ppo import PPOBatch, gae


def test_source_is_the_library_function_as_it_is_now() -> None:
    text = source_markdown(gae)
    assert text.startswith("`stepcoder_lib.training.ppo.gae` (stepcoder_lib/training/ppo.py:")
    assert inspect.getsource(gae).rstrip() in text and text.endswith("```")
    both = show_source(gae, apply_token_mask).data
    assert both.index("def gae(") < both.index("def apply_token_mask(")
    assert "\ndef policy_mask(" in source_markdown(PPOBatch.policy_mask.fget)  # a property's getter, dedented


def test_what_we_saw_lists_points_and_refuses_an_empty_summary() -> None:
    assert what_we_saw(["3 of 4 kept.", "  ", "rate 75%"]).data == "- 3 of 4 kept.\n- rate 75%"
    with pytest.raises(ValueError, match="at least one point"):
        what_we_saw(["", " "])
