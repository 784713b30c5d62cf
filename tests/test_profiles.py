"""Profiles: the paper's values as the defaults, each other profile as what it changes, dotted keys at any depth."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stepcoder_lib.settings.profiles import (
    PAPER,
    PROFILES,
    SMALL,
    SMOKE,
    TINY,
    CCCSConfig,
    GRPOConfig,
    PPOConfig,
    Profile,
    get_profile,
)
from stepcoder_lib.training.train import parse_set


def flat(profile: Profile) -> dict[str, Any]:
    """Every setting of a profile by its dotted key (name and description left out)."""
    out: dict[str, Any] = {}

    def walk(section: Any, prefix: str) -> None:
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                out[prefix + f.name] = value

    walk(profile, "")
    return {k: v for k, v in out.items() if k not in ("name", "description")}


@pytest.mark.parametrize(("name", "changes"), [("small", SMALL), ("tiny", TINY), ("smoke", SMOKE)])
def test_each_profile_differs_from_paper_in_exactly_the_keys_it_lists(name: str, changes: dict[str, Any]) -> None:
    paper, profile = flat(PAPER), flat(PROFILES[name])
    differs = {k for k in paper if paper[k] != profile[k]}
    assert differs == set(changes), f"{name}: listed but not changed {set(changes) - differs}"
    assert all(profile[k] == v for k, v in changes.items())


def test_paper_is_the_defaults_and_every_section_is_frozen() -> None:
    assert PROFILES["paper"] == Profile() == PAPER
    with pytest.raises(dataclasses.FrozenInstanceError):
        PAPER.rl.ppo.lam = 1.0  # type: ignore[misc]


def test_dotted_overrides_reach_nested_sections_and_leave_the_rest() -> None:
    tiny = get_profile("tiny")
    p = get_profile("tiny", {"rl.cccs.alpha": 0.5, "rl.ppo.lam": 0.95, "rl.grpo.loss_type": "grpo"})
    assert (p.rl.cccs.alpha, p.rl.ppo.lam, p.rl.grpo.loss_type) == (0.5, 0.95, "grpo")
    assert p.rl.cccs.rho_threshold == tiny.rl.cccs.rho_threshold == 0.7 and p.rl.ppo.critic_lr == 3e-4
    assert dataclasses.replace(p.rl, cccs=tiny.rl.cccs, ppo=tiny.rl.ppo, grpo=tiny.rl.grpo) == tiny.rl
    assert get_profile("tiny", {"model.tiny.num_layers": 3}).model.tiny.num_layers == 3  # three deep


def test_the_clis_set_reaches_nested_fields() -> None:
    p = get_profile("tiny", parse_set(["rl.cccs.alpha=0.5", "rl.ppo.whiten_advantages=false", "rl.grpo.vllm_mode=off"]))
    assert (p.rl.cccs.alpha, p.rl.ppo.whiten_advantages, p.rl.grpo.vllm_mode) == (0.5, False, "off")


def test_an_unknown_or_old_key_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="'rl.cccs.beta': CCCSConfig has alpha, cut_at_line_start, rho_threshold"):
        get_profile("tiny", {"rl.cccs.beta": 0.5})
    with pytest.raises(KeyError, match=r"'rl.cccs_alpha': RLConfig has .*cccs.*ppo"):
        get_profile("tiny", {"rl.cccs_alpha": 0.5})
    with pytest.raises(KeyError, match="'rl.ppo' is a section; set one of its fields, e.g. rl.ppo.<field>"):
        get_profile("tiny", {"rl.ppo": 1})


@pytest.mark.parametrize(("key", "value", "message"), [
    ("rl.ppo.lam", 1.5, r"rl.ppo.lam=1.5: set it in \[0, 1\]"),
    ("rl.ppo.minibatch_size", 0, "rl.ppo.minibatch_size=0: set a positive value"),
    ("rl.grpo.vllm_mode", "fast", "rl.grpo.vllm_mode='fast': choose one of off, colocate, server"),
    ("rl.cccs.alpha", 0.0, r"rl.cccs.alpha=0.0: set it in \(0, 1\]"),
    ("rl.update_epochs", 0, "rl.update_epochs=0: set 1 or more"),
])
def test_a_bad_value_is_refused_by_its_key_with_what_to_set(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_profile("smoke", {key: value})


def test_the_nested_sections_defaults_are_the_papers_and_moss_rlhfs() -> None:
    assert (PPOConfig().critic_lr, PPOConfig().kl_clip) == (1.5e-6, 0.8)  # paper
    assert (PPOConfig().gamma, PPOConfig().lam, PPOConfig().value_clip) == (1.0, 0.95, 0.2)  # MOSS-RLHF
    assert (CCCSConfig().alpha, CCCSConfig().rho_threshold, CCCSConfig().cut_at_line_start) == (0.1, 0.8, False)
    assert (GRPOConfig().loss_type, GRPOConfig().vllm_mode) == ("dapo", "off")
