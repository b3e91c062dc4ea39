"""How far the CPU profile's numbers move with the seed and with the thread count (a stand-in for another machine: a
different number of threads changes the order of float reductions, as a different CPU's kernels do).

MNIST / Fashion-MNIST fc2 (idx 2, 3): the workflow's rules target (`snakemake rules_robustness`, the CPU profile)
runs in a scratch experiments folder once per seed, and once more with the first seed on one thread: three nets
trained, attacked (FGSM) and explained (three rules). It prints the nets' test accuracies (read from their sidecars)
and Fig. 5's medians of that dataset (last layer, top-20 %, n = 100, from the figure's CSV).
ResNet-20 (idx 6): the adversarial and Bayesian nets start from one deterministic ResNet (seed 0), as the CPU
profile's do, so their spread is that of the fine-tuning alone; they are trained by `train_networks.py`.
    python benchmarks/bench_spread.py                       # idx 2, about 40 min on 2 cores
    python benchmarks/bench_spread.py --nets 6              # the ResNet-20s: det once, then adv and Bayes
    python benchmarks/bench_spread.py --nets 6 --det_from experiments   # ... from make reproduce's det ResNet
    python benchmarks/bench_spread.py --nets 2 3 --seeds 0 1 2 3
The README's tolerance (section "Across machines") comes from this script's output.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import header

from utils.lrp import RULES

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BLRP_DATA") or REPO / "data")
KINDS = {2: ["baseNN", "advNN", "fullBNN"], 3: ["baseNN", "advNN", "fullBNN"], 6: ["advNN", "fullBNN"]}
SIDECARS = {"baseNN": "weights.json", "advNN": "weights.json", "fullBNN": "posterior.json"}
TOPK = 20


def run(cmd, threads):
    """Run `cmd` with torch on `threads` threads; returns its seconds, or exits with the tail of its output."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.time()
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return time.time() - start


def accuracy(exp_dir, model, idx):
    """The test accuracy (%) in a net's sidecar; a fullBNN's at its largest sample count."""
    sidecar = next(Path(exp_dir).glob(f"{model}/*_idx={idx}*/{SIDECARS[model]}"))
    acc = json.loads(sidecar.read_text())["test_accuracy"]
    if isinstance(acc, dict):
        acc = acc[max(acc, key=int)]
    return 100 * acc


def train(model, idx, seed, exp_dir, threads):
    """Train one net by the CPU profile; returns (test accuracy, seconds)."""
    seconds = run([sys.executable, REPO / "src/train_networks.py", "--model", model, "--model_idx", idx, "--profile",
                   "cpu", "--seed", seed, "--exp_dir", exp_dir, "--data_dir", DATA, "--quiet"], threads)
    return accuracy(exp_dir, model, idx), seconds


def rules_target(idx, seed, exp_dir, threads, debug=False):
    """The workflow's rules target for one fc2 index; returns ({kind: accuracy}, {rule: (Adv - Det, Bay - Det)} at
    the last layer, seconds)."""
    seconds = run([sys.executable, "-m", "snakemake", "-s", REPO / "workflow/Snakefile", "-d", REPO, "--cores", 2,
                   "rules_robustness", "--config", "profile=cpu", f"model_idxs=[{idx}]", "cifar=false", f"seed={seed}",
                   f"threads={threads}", f"topk={TOPK}", f"exp_dir={exp_dir}", f"data_dir={DATA}",
                   f"python={sys.executable}", f"debug={str(debug).lower()}"], threads)
    exp_dir = Path(exp_dir) / "debug" if debug else Path(exp_dir)
    with open(exp_dir / "figures" / f"rules_robustness_idx{idx}_fgsm_topk={TOPK}.csv") as f:
        rows = list(csv.DictReader(f))
    last = max(int(r["layer_idx"]) for r in rows)  # the figure's CSV holds every learnable layer
    medians = {r["rule"]: (float(r["adv_minus_det_median"]), float(r["bay_minus_det_median"]))
               for r in rows if int(r["layer_idx"]) == last}
    return {model: accuracy(exp_dir, model, idx) for model in KINDS[idx]}, medians, seconds


def runs_of(args):
    """(seed, threads) of every run: each seed on --threads, then the first seed on one thread."""
    return [(s, args.threads) for s in args.seeds] + [(args.seeds[0], 1)]


def spread(values):
    """(min over the seeded runs, max over them, |1 thread - 2 threads| for the first seed)."""
    seeded = values[:-1]
    return min(seeded), max(seeded), abs(values[-1] - values[0])


def fc_spread(idx, args, tmp):
    accs, medians = [], []
    for seed, threads in runs_of(args):
        acc, med, sec = rules_target(idx, seed, Path(tmp) / f"idx{idx}_seed{seed}_threads{threads}", threads,
                                     args.debug)
        accs.append(acc)
        medians.append(med)
        print(f"idx {idx} seed {seed} threads {threads} ({sec:.0f} s): "
              + ", ".join(f"{m} {a:.2f} %" for m, a in acc.items()) + "; Fig. 5 medians Adv-Det / Bay-Det: "
              + ", ".join(f"{r} {a:+.3f} / {b:+.3f}" for r, (a, b) in med.items()), flush=True)
    acc_rows = [(idx, model, *spread([a[model] for a in accs])) for model in KINDS[idx]]
    med_rows = [(idx, rule, which, *spread([m[rule][k] for m in medians]))
                for rule in RULES for k, which in enumerate(("Adv - Det", "Bay - Det"))]
    return acc_rows, med_rows


def det_resnet(exp_dir):
    """The trained det ResNet-20 (idx 6, CPU profile) of an experiments folder; exits with one line if there is none."""
    found = sorted(Path(exp_dir).glob("baseNN/*_idx=6*/weights.json"))
    if not found:
        sys.exit(f"error: no det ResNet-20 under {exp_dir}/baseNN: run python src/train_networks.py --model baseNN "
                 "--model_idx 6 --profile cpu, or leave out --det_from")
    return found[0].parent


def resnet_spread(args, tmp):
    exp = Path(tmp) / "idx6"
    if args.det_from:
        det = det_resnet(args.det_from)
        shutil.copytree(det, exp / "baseNN" / det.name)
        print(f"idx 6 baseNN from {det}: {accuracy(exp, 'baseNN', 6):.2f} % (the start of the others)", flush=True)
    else:
        acc, sec = train("baseNN", 6, 0, exp, args.threads)
        print(f"idx 6 baseNN seed 0 ({args.threads} threads): {acc:.2f} % in {sec:.0f} s (the start of the others)",
              flush=True)
    rows = []
    for model in KINDS[6]:
        accs = []
        for seed, threads in runs_of(args):
            acc, sec = train(model, 6, seed, exp, threads)
            accs.append(acc)
            print(f"idx 6 {model:8s} seed {seed} threads {threads}: {acc:6.2f} % ({sec:.0f} s)", flush=True)
        rows.append((6, model, *spread(accs)))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", type=int, nargs="+", default=[2], choices=sorted(KINDS),
                   help="model indices (2, 3: the fc2 nets and Fig. 5's medians, about 10 min a run; 6: the "
                        "ResNet-20s, about an hour on 2 cores)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2, help="threads of the seeded runs (the extra run uses 1)")
    p.add_argument("--det_from", type=Path, default=None, metavar="EXP_DIR",
                   help="take the det ResNet (idx 6) from this experiments folder (e.g. make reproduce's) instead of "
                        "training it here (about 10 min on 2 cores)")
    p.add_argument("--debug", action="store_true", help="the fc2 nets on the debug grid (checks this script in minutes)")
    args = p.parse_args()
    if args.debug and 6 in args.nets:
        p.error("--debug is for the fc2 nets (idx 2, 3)")
    header("spread of the CPU profile's numbers over seeds and thread counts")
    acc_rows, med_rows = [], []
    with tempfile.TemporaryDirectory(prefix="blrp_spread_") as tmp:
        for idx in args.nets:
            if idx == 6:
                acc_rows += resnet_spread(args, tmp)
            else:
                accs, meds = fc_spread(idx, args, tmp)
                acc_rows += accs
                med_rows += meds
    print(f"\ntest accuracy (%)\n| idx | net | min over seeds | max over seeds | spread | seed {args.seeds[0]}: 1 vs "
          f"{args.threads} threads |\n|---|---|---|---|---|---|")
    for idx, model, lo, hi, thr in acc_rows:
        print(f"| {idx} | {model} | {lo:.2f} | {hi:.2f} | {hi - lo:.2f} | {thr:.2f} |")
    if med_rows:
        print(f"\nFig. 5 medians (last layer, FGSM, top-{TOPK} %, n = 100)\n| idx | rule | median | min over seeds | "
              f"max over seeds | spread | seed {args.seeds[0]}: 1 vs {args.threads} threads |\n|---|---|---|---|---|---|---|")
        for idx, rule, which, lo, hi, thr in med_rows:
            print(f"| {idx} | {rule} | {which} | {lo:+.3f} | {hi:+.3f} | {hi - lo:.3f} | {thr:.3f} |")


if __name__ == "__main__":
    main()
