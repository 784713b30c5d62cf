"""``make reproduce`` end to end on the smoke profile: every notebook runs, in order, headless."""

from __future__ import annotations

import json

import papermill
import pytest

from stepcoder_lib import reproduce


@pytest.mark.slow
def test_reproduce_runs_every_notebook_in_order(tmp_path):
    outputs = reproduce.run("smoke", tmp_path)
    names = [p.name for p in outputs]
    assert names == sorted(names) and names == [p.name for p in reproduce.notebooks()]
    assert names[0].startswith("01_")
    for path in outputs:
        nb = json.loads(path.read_text())
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (path.name, errors[:1])
        if "profile" in papermill.inspect_notebook(str(reproduce.REPO / "notebooks" / path.name)):
            params = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
            assert params and "profile = \"smoke\"" in "".join(params[0]["source"]), path.name


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown profile"):
        reproduce.run("huge", tmp_path)
