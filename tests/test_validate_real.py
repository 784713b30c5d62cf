"""``make validate-real``: known-good real solutions pass; a broken one is named with its verdict."""

from __future__ import annotations

import json
import shutil

from stepcoder_lib.data import validate_real


def test_apps_train5_first_solutions_pass_and_a_broken_copy_is_reported(realdata, tmp_path, capsys):
    src = realdata / "apps_train5"
    dst = tmp_path / "mirror" / "apps"
    shutil.copytree(src, dst)
    broken = dst / "train" / "0001"
    sols = json.loads((broken / "solutions.json").read_text())
    (broken / "solutions.json").write_text(json.dumps(["print(42)"] + sols[:0]))
    mbpp = tmp_path / "mirror" / "mbpp"
    mbpp.mkdir()
    rows = (realdata / "mbpp" / "mbpp.jsonl").read_text().splitlines()[:20]
    (mbpp / "mbpp.jsonl").write_text("\n".join(rows) + "\n")
    code = validate_real.main([str(tmp_path / "mirror"), "--workers", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "20/20    MBPP full" in out
    assert "164/164   HumanEval" in out
    assert "4/5     APPS" in out and "FAIL apps/train/0001: wrong_answer" in out


def test_absent_folder_skips_with_a_message(tmp_path, capsys):
    assert validate_real.main([str(tmp_path / "nowhere")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_a_folder_with_nothing_recognisable_fails(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other" / "train" / "misc").mkdir(parents=True)
    (tmp_path / "other" / "notes.txt").write_text("not real data")
    for folder in ("empty", "other"):
        assert validate_real.main([str(tmp_path / folder)]) == 2
        err = capsys.readouterr().err
        assert "FAILED" in err and "holds no real data" in err and "mbpp/mbpp.jsonl" in err


def test_make_validate_real_on_an_empty_folder_exits_non_zero(tmp_path):
    import subprocess
    import sys

    from stepcoder_lib.settings.paths import repo_root

    proc = subprocess.run([sys.executable, "-m", "stepcoder_lib.data.validate_real", str(tmp_path)], cwd=repo_root(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "holds no real data" in proc.stderr
