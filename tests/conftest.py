"""Shared fixtures: real data (small subsets of it), temporary experiment roots, script runners."""
import contextlib
import importlib
import io
import os
import subprocess
import sys

import pytest
import torch

from utils import cli
from utils.data.datasets import load_dataset, provision, seeded_subset
from utils.paths import REPO, data_root

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def data_dir():
    root = data_root()
    for dataset in ("mnist", "fashion_mnist"):
        provision(dataset, root)
    return root


@pytest.fixture(scope="session")
def mnist_train(data_dir):
    return load_dataset("mnist", data_dir, train=True)


@pytest.fixture(scope="session")
def mnist_test(data_dir):
    return load_dataset("mnist", data_dir, train=False)


@pytest.fixture(scope="session")
def mnist_small(mnist_train):
    """5000 real MNIST training images (seeded)."""
    return seeded_subset(*mnist_train, 5000, seed=0)


def run_process(script, *args, env=None, timeout=600):
    """Run an entry script in its own interpreter, as a user would; returns the CompletedProcess. A few tests keep
    this (the one-line refusal as the shell sees it, an environment variable read by a fresh process); the rest use
    `run_script`, which saves the 4 s of imports each new interpreter pays."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(REPO / "src" / script), *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=REPO)


def run_inprocess(script, *args):
    """(exit status, stdout, stderr) of `python src/<script>.py args` run in this process: the script's own
    `cli.run_main(main)`."""
    mod = importlib.import_module(script)
    argv = [f"{script}.py", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    old_argv = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.run_main(mod.main)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old_argv
    return code, out.getvalue(), err.getvalue()


def run_script(script, *args):
    """`python src/<script> args` run in this process (`run_inprocess`), as a CompletedProcess."""
    name = script.removesuffix(".py")
    code, out, err = run_inprocess(name, *args)
    return subprocess.CompletedProcess([f"src/{script}", *map(str, args)], code, out, err)


def saved_png(proc):
    """The last PNG a script reported as saved; it exists and is not empty."""
    from pathlib import Path
    png = Path([line.split("saved ", 1)[1].split(" (")[0] for line in proc.stdout.splitlines() if "saved " in line][-1])
    assert png.suffix == ".png" and png.stat().st_size > 10_000
    return png


def assert_clean_error(proc, *fragments):
    """A user error: non-zero exit, one line on stderr starting with 'error:', no traceback."""
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, data_dir):
    """A real, tiny pipeline for model idx 2 (MNIST fc2) under --debug: trained det/adv/Bayesian nets and
    their FGSM attacks on a 100-image test subset, and their heatmaps for the three rules. Returns the experiments root."""
    exp = tmp_path_factory.mktemp("pipeline")
    steps = [("train_networks.py", "--model", m, "--model_idx", 2) for m in ("baseNN", "advNN", "fullBNN")]
    steps += [("attack_networks.py", "--model", m, "--model_idx", 2, "--attack_method", "fgsm")
              for m in ("baseNN", "advNN", "fullBNN")]
    steps += [("compute_lrp.py", "--model", m, "--model_idx", 2, "--rule", r) for m in ("baseNN", "advNN", "fullBNN")
              for r in ("epsilon", "gamma", "alpha1beta0")]
    for script, *args in steps:  # in this process: the same code path as a user's run, without 15 interpreter starts
        code, _, err = run_inprocess(script.removesuffix(".py"), *args, "--debug", "--quiet", "--exp_dir", exp)
        assert code == 0, f"{script} {args}: {err}"
    return exp


def in_stage_order(root):
    """`root`'s artifacts with modification times in the order the pipeline made them (weights and subsets, then
    attacks, then heatmaps, then figures), as after one run of the stages. Tests that share a fixture rewrite some
    of its files later (an attack re-saved by a --load test), and the workflow would, rightly, remake what depends
    on them."""
    import os
    import time
    from pathlib import Path
    newest_data = max((p.stat().st_mtime for p in data_root().rglob("*.json")), default=0)
    if time.time() - newest_data < 5:  # data written just now (a fresh clone): leave room between it and now
        time.sleep(5)
    now = time.time()
    base = max(now - 200, newest_data + 1)  # after the data the first stage reads, and every time in the past
    step = (now - 1 - base) / 3
    rank = lambda p: (3 if "figures" in p.parts else 2 if any(x.endswith("_lrp") for x in p.parts)  # noqa: E731
                      else 1 if "attacks" in p.parts else 0)
    for p in sorted(Path(root).rglob("*"), key=lambda p: -len(p.parts)):
        t = base + step * rank(p)
        os.utime(p, (t, t), follow_symlinks=False)
