"""The controls study's time per stage (train, attack, LRP) and per variant, and what the one-process driver saves
against one process per stage call (the exec scripts' way: each call pays Python, torch and Pyro start-up).

    python benchmarks/bench_controls.py                      # runs the DEBUG study for idx 2 in a temporary folder
    python benchmarks/bench_controls.py --timings experiments/figures/controls/controls_cpu_topk=20_timings.csv
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from common import header

REPO = Path(__file__).resolve().parents[1]


def startup_seconds(repeats=3):
    """Wall-clock seconds of one stage process that imports the pipeline and exits (median)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import compute_lrp, attack_networks, train_networks"], check=True,
                       cwd=REPO / "src", env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timings", default=None, help="a study's _timings.csv (default: run the DEBUG study, idx 2)")
    args = p.parse_args()
    header("controls study")
    if args.timings:
        timings = pd.read_csv(args.timings)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, str(REPO / "src/controls_study.py"), "--debug", "--model_idxs", "2",
                            "--exp_dir", tmp, "--quiet"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
            print(f"DEBUG study, idx 2, from scratch: {time.perf_counter() - start:.0f} s")
            timings = pd.read_csv(next(Path(tmp).glob("debug/figures/controls/*_timings.csv")))
    per_stage = timings.groupby(["model_idx", "stage"]).seconds.sum().unstack()
    print("seconds per stage and model idx:\n" + per_stage.round(1).to_string())
    print("\nseconds per variant (train / attack / lrp):")
    table = timings.pivot_table(index=["model_idx", "variant"], columns="stage", values="seconds", sort=False)
    print(table.round(1).to_string())
    # one process per call: 1 train + 4 attacks + 3 rules x 1 LRP (all protocols in one call) per variant
    calls = len(table) * (1 + 4 + 3)
    boot = startup_seconds()
    total = timings.seconds.sum()
    print(f"\nstudy total {total:.0f} s in one process; one process per stage call would add {calls} x {boot:.1f} s "
          f"start-up = {calls * boot:.0f} s ({(total + calls * boot) / total:.2f}x)")


if __name__ == "__main__":
    main()
