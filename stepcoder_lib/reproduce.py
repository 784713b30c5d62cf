"""``make reproduce``: run the notebooks in order, headless, with papermill.

Each ``notebooks/NN_*.ipynb`` runs with the profile's parameters (only those its ``parameters``
cell declares) into ``papermill_runs/<profile>/``. A notebook that fails stops the run with the
cell's error and the path of the partly executed copy, since later notebooks read its outputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stepcoder_lib.paths import repo_root

REPO = repo_root()

#: Parameters every profile passes to the notebooks that declare them.
PROFILES: dict[str, dict[str, object]] = {
    "smoke": {"profile": "smoke"},
    "tiny": {"profile": "tiny"},
}


def notebooks(folder: Path = REPO / "notebooks") -> list[Path]:
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def run(profile: str, out_dir: Path, only: list[str] | None = None) -> list[Path]:
    import papermill as pm

    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for nb in notebooks():
        if only and not any(nb.name.startswith(o) for o in only):
            continue
        declared = pm.inspect_notebook(str(nb))
        params = {k: v for k, v in PROFILES[profile].items() if k in declared}
        out = out_dir / nb.name
        t0 = time.time()
        print(f"== {nb.name} ({profile}) -> {out}", flush=True)
        try:
            pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(nb.parent), kernel_name="python3",
                                progress_bar=True)
        except pm.PapermillExecutionError as exc:
            raise SystemExit(f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                             f"(partly executed copy: {out})") from None
        print(f"   done in {time.time() - t0:.0f}s", flush=True)
        done.append(out)
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 01 03")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else REPO / "papermill_runs" / args.profile
    run(args.profile, out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
