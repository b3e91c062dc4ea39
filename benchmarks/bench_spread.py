"""How far the CPU profile's accuracies move with the seed and with the thread count (a stand-in for another
machine: a different number of threads changes the order of float reductions, as a different CPU's kernels do).

Each net is trained by the real script (`train_networks.py --profile cpu`) in a scratch experiments folder, once
per seed, and once more with seed 0 on one thread; the test accuracy is read from its sidecar. The ResNet-20's
adversarial and Bayesian nets start from one deterministic ResNet (seed 0), as the CPU profile's do, so their
spread is that of the fine-tuning alone.
    python benchmarks/bench_spread.py                       # MNIST fc2 (idx 2), about 25 min on 2 cores
    python benchmarks/bench_spread.py --nets 6              # the ResNet-20s: det once, then adv and Bayes
    python benchmarks/bench_spread.py --nets 6 --det_from experiments   # ... from make reproduce's det ResNet
    python benchmarks/bench_spread.py --nets 2 --seeds 0 1 2 3
The README's tolerance (section "Across machines") comes from this script's output.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import header

REPO = Path(__file__).resolve().parents[1]
KINDS = {2: ["baseNN", "advNN", "fullBNN"], 3: ["baseNN", "advNN", "fullBNN"], 6: ["advNN", "fullBNN"]}
SIDECARS = {"baseNN": "weights.json", "advNN": "weights.json", "fullBNN": "posterior.json"}


def train(model, idx, seed, exp_dir, threads, quiet=True):
    """Train one net by the CPU profile; returns (test accuracy, seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, str(REPO / "src/train_networks.py"), "--model", model, "--model_idx", str(idx),
           "--profile", "cpu", "--seed", str(seed), "--exp_dir", str(exp_dir)] + (["--quiet"] if quiet else [])
    start = time.time()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    seconds = time.time() - start
    sidecar = next(Path(exp_dir).glob(f"{model}/*_idx={idx}*/{SIDECARS[model]}"))
    meta = json.loads(sidecar.read_text())
    acc = meta.get("test_accuracy")
    if isinstance(acc, dict):  # a fullBNN: the accuracy of its largest sample count
        acc = acc[max(acc, key=int)]
    return 100 * acc, seconds


def det_resnet(exp_dir):
    """The trained det ResNet-20 (idx 6, CPU profile) of an experiments folder; exits with one line if there is none."""
    found = sorted(Path(exp_dir).glob("baseNN/*_idx=6*/weights.json"))
    if not found:
        sys.exit(f"error: no det ResNet-20 under {exp_dir}/baseNN: run python src/train_networks.py --model baseNN "
                 "--model_idx 6 --profile cpu, or leave out --det_from")
    return found[0].parent


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", type=int, nargs="+", default=[2], choices=sorted(KINDS),
                   help="model indices (6: the ResNet-20s, about an hour on 2 cores)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2, help="threads of the seeded runs (the extra run uses 1)")
    p.add_argument("--det_from", type=Path, default=None, metavar="EXP_DIR",
                   help="take the det ResNet (idx 6) from this experiments folder (e.g. make reproduce's) instead of "
                        "training it here (about 10 min on 2 cores)")
    args = p.parse_args()
    header("spread of the CPU profile's test accuracies over seeds and thread counts")
    rows = []
    with tempfile.TemporaryDirectory(prefix="blrp_spread_") as tmp:
        for idx in args.nets:
            exp = Path(tmp) / f"idx{idx}"
            if idx == 6 and args.det_from:
                det = det_resnet(args.det_from)
                shutil.copytree(det, exp / "baseNN" / det.name)
                acc = 100 * json.loads((det / "weights.json").read_text())["test_accuracy"]
                print(f"idx 6 baseNN from {det}: {acc:.2f} % (the start of the others)", flush=True)
            elif idx == 6:
                acc, sec = train("baseNN", 6, 0, exp, args.threads)
                print(f"idx 6 baseNN seed 0 ({args.threads} threads): {acc:.2f} % in {sec:.0f} s (the start of the others)", flush=True)
            for model in KINDS[idx]:
                runs = []
                for seed, threads in [(s, args.threads) for s in args.seeds] + [(args.seeds[0], 1)]:
                    acc, sec = train(model, idx, seed, exp, threads)
                    runs.append((seed, threads, acc, sec))
                    print(f"idx {idx} {model:8s} seed {seed} threads {threads}: {acc:6.2f} % ({sec:.0f} s)", flush=True)
                seeded = [r[2] for r in runs[:-1]]
                rows.append((idx, model, min(seeded), max(seeded), abs(runs[-1][2] - runs[0][2])))
    print("\n| idx | net | min over seeds | max over seeds | spread | seed 0: 1 vs "
          f"{args.threads} threads |\n|---|---|---|---|---|---|")
    for idx, model, lo, hi, thr in rows:
        print(f"| {idx} | {model} | {lo:.2f} % | {hi:.2f} % | {hi - lo:.2f} | {thr:.2f} |")


if __name__ == "__main__":
    main()
