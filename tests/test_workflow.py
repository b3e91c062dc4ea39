"""The Snakemake workflow (workflow/Snakefile): the plan of every exec target, one debug target end to end, reruns
after a changed settings entry, the same target through a real single-node SLURM, and the HTML report."""
import collections
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from utils.paths import REPO, data_root

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# the exec scripts' grid (exec_main.sh before the workflow): (model idx, attack, rules), plus the ResNet-20
MAIN_GRID = [(0, "fgsm", 1), (1, "fgsm", 1), (2, "fgsm", 3), (3, "fgsm", 3), (2, "pgd", 1), (3, "pgd", 1), (6, "fgsm", 3)]
SMALL = ["profile=cpu", "debug=true", "model_idxs=[2]", "attacks=[fgsm]"]


def snakemake(*args, repo=REPO, exp=None, config=(), timeout=900, check=True, env=None):
    cfg = list(config) + ([f"exp_dir={exp}"] if exp else []) + [f"data_dir={data_root()}", f"python={sys.executable}"]
    cmd = SNAKEMAKE + ["-s", str(repo / "workflow" / "Snakefile"), "-d", str(repo), *args, "--config", *cfg]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=repo,
                          env=None if env is None else {**os.environ, **env})
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def dag(target, exp, config):
    """(jobs by rule, edges as (rule of the upstream job, rule of the downstream job)) of a dry run's DAG."""
    dot = snakemake("--dag", "dot", target, exp=exp, config=config).stdout
    nodes = {n: label.split("\\n") for n, label in re.findall(r"^\s*(\d+)\[label = \"([^\"]*)\"", dot, re.M)}
    edges = [(nodes[a], nodes[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)$", dot, re.M)]
    return nodes, edges


def count(nodes):
    return collections.Counter(label[0] for label in nodes.values() if label[0] not in ("data", "data_cifar"))


def test_main_target_plans_the_exec_grid_in_dependency_order(tmp_path):
    nodes, edges = dag("main", tmp_path, ["profile=cpu"])
    jobs = count(nodes)
    assert jobs["train"] == 5 * 3 and jobs["attack"] == 3 * len(MAIN_GRID)
    assert jobs["lrp"] == 3 * sum(rules for _, _, rules in MAIN_GRID)
    assert jobs["subset"] == 5  # MNIST 200 (conv) and 500 (fc2), F-MNIST 200 and 500, CIFAR-10 200
    assert sum(v for k, v in jobs.items() if k.startswith("figure_")) == 10 and jobs["main"] == 1
    upstream = collections.defaultdict(set)
    for a, b in edges:
        upstream[b[0]].add(a[0])
    assert upstream["lrp"] == {"train", "attack"} and upstream["attack"] == {"train", "subset"}
    assert upstream["figure_rules_robustness_main"] == {"train", "attack", "lrp"}
    # the CPU profile's nets that start from the trained baseNN: advNN idx 1 and 6, the Bayesian ResNet
    from_det = {tuple(b) for a, b in edges if a[0] == b[0] == "train" and "model: baseNN" in a}
    assert {b[1] for b in from_det} == {"model: advNN", "model: fullBNN"} and len(from_det) == 3


@pytest.mark.parametrize("target, config, expected", [
    ("layers_robustness", ["model_idxs=[2,3]", "attacks=[fgsm,pgd]"],
     {"train": 6, "attack": 12, "lrp": 12, "figure_robustness_diff": 4, "figure_robustness_scatter": 4}),
    ("rules_robustness", ["model_idxs=[2,3]", "cifar=false"],
     {"train": 6, "attack": 6, "lrp": 18, "figure_rules_robustness": 2, "figure_rules_robustness_main": 1}),
    ("cifar", [], {"train": 3, "attack": 3, "lrp": 9, "figure_rules_robustness": 1}),
    ("controls", [], {"controls_study": 1}),
])
def test_exec_targets_plan(tmp_path, target, config, expected):
    nodes, _ = dag(target, tmp_path, ["profile=cpu", *config])
    jobs = count(nodes)
    jobs.pop(target)
    jobs.pop("subset", None)
    assert dict(jobs) == expected


def test_planning_does_not_import_torch(tmp_path):
    """The workflow parses from torch-free modules (paths, model_settings, lrp's names): a plan, and every job's
    start on a cluster, costs no torch import (about 3 s each)."""
    proc = snakemake("-n", "main", exp=tmp_path, config=["profile=cpu"], env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "utils.model_settings" in imported and not {"torch", "pyro"} & imported


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    """A copy of the code the workflow runs (src/, workflow/, config/), so that a test may edit a settings entry."""
    repo = tmp_path_factory.mktemp("repo")
    for part in ("src", "workflow", "config"):
        shutil.copytree(REPO / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


@pytest.fixture(scope="module")
def local_run(workflow_copy, tmp_path_factory):
    """The debug layers target (MNIST fc2: three nets, FGSM, epsilon, Figs. 4 and 6) run by Snakemake on 2 cores."""
    exp = tmp_path_factory.mktemp("local")
    snakemake("--cores", "2", "layers_robustness", repo=workflow_copy, exp=exp, config=SMALL)
    return exp


def artifacts(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.suffix in (".pt", ".csv") and "logs" not in p.parts)


def test_debug_target_runs_end_to_end_and_then_is_current(local_run, workflow_copy):
    figs = local_run / "debug" / "figures"
    for kind in ("robustness_diff", "robustness_scatter"):
        png = figs / f"{kind}_idx2_fgsm_epsilon.png"
        assert png.stat().st_size > 10_000 and png.with_suffix(".csv").exists()
    assert len([p for p in artifacts(local_run) if p.name.endswith("lrp.pt") or "lrp_samp" in p.name]) == 2 * 3 * 2 + 3 * 2 * 3  # det: 3 layers x clean/attacked; BNN: x 3 n
    again = snakemake("-n", "layers_robustness", repo=workflow_copy, exp=local_run, config=SMALL)
    assert "Nothing to be done" in again.stdout + again.stderr


def plan(repo, exp, target, config):
    """(jobs per rule, the output files) of a dry run."""
    text = snakemake("-n", target, repo=repo, exp=exp, config=config).stdout
    if "Nothing to be done" in text:
        return {}, []
    block = text.split("Job stats:")[1].split("total")[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}
    return jobs, re.findall(r"^\s+output: (.*)$", text, re.M)


def test_touching_a_settings_entry_reruns_exactly_its_descendants(local_run, workflow_copy):
    settings = workflow_copy / "src" / "utils" / "model_settings.py"
    text = settings.read_text()
    entry = '"bayes": {"inference": "hmc", "hmc_samples": 100, "warmup": 100}'
    assert text.count(entry) == 3  # entries 2 (edited here), 3 and 5
    try:
        settings.write_text(text.replace(entry, entry.replace("100,", "120,"), 1))
        jobs, outputs = plan(workflow_copy, local_run, "layers_robustness", SMALL)
    finally:
        settings.write_text(text)
    # the fullBNN of entry 2, its attack, its heatmaps and the two figures; not the baseNN or the advNN
    assert jobs == {"train": 1, "attack": 1, "lrp": 1, "figure_robustness_diff": 1, "figure_robustness_scatter": 1,
                    "layers_robustness": 1}
    assert all("/fullBNN/" in o or "/figures/" in o for o in outputs), outputs
    assert plan(workflow_copy, local_run, "layers_robustness", SMALL)[0] == {}  # the entry restored: current again


@pytest.fixture
def local_slurm():
    """A single-node SLURM on this machine (workflow/scripts/local_slurm.sh), stopped again if this test started it."""
    script = REPO / "workflow" / "scripts" / "local_slurm.sh"
    was_up = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield
    if not was_up:
        subprocess.run(["bash", str(script), "down"], capture_output=True, timeout=60)


@pytest.mark.slow
def test_slurm_executor_gives_the_local_artifacts(local_run, workflow_copy, local_slurm, tmp_path):
    exp = tmp_path / "slurm"
    proc = subprocess.run(["timeout", "-k", "10", "600", *SNAKEMAKE, "-s", str(workflow_copy / "workflow" / "Snakefile"),
                           "-d", str(workflow_copy), "--profile", str(workflow_copy / "workflow" / "profiles" / "slurm"),
                           "--slurm-init-seconds-before-status-checks", "2", "layers_robustness", "--config", *SMALL, f"exp_dir={exp}", f"data_dir={data_root()}",
                           f"python={sys.executable}"], capture_output=True, text=True, cwd=workflow_copy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", proc.stdout + proc.stderr)
    assert len(submitted) >= 12  # every job of the target (subset, 3 x train / attack / lrp, 2 figures, ...)
    mine, theirs = artifacts(exp), artifacts(local_run)
    assert mine == theirs and len(mine) > 20
    for rel in mine:
        a, b = exp / rel, local_run / rel
        if rel.suffix == ".csv":
            assert a.read_bytes() == b.read_bytes(), rel
        else:
            ta, tb = (torch.load(p, weights_only=True)["tensors"] for p in (a, b))
            assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), rel


def chromium():
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def show_figure(report, figure, out_png, size=(1500, 1000)):
    """Open the report in headless Chromium, show `figure` as a click on it would (the report's own view), and
    return the rendered page's DOM; a screenshot of the view goes to `out_png`."""
    page = report.with_name("report_view.html")
    script = ('<script>window.addEventListener("load", () => setTimeout(() => {'
              f'const path = Object.keys(results).find(p => p.endsWith("{figure}"));'
              'app.setView({content: "img", contentPath: results[path].data_uri, resultPath: path});'
              '}, 200));</script>')
    head, body_end, tail = report.read_text().rpartition("</body>")  # the page's own end (the scripts hold others)
    page.write_text(head + script + body_end + tail)
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000"]
    dom = subprocess.run(common + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    subprocess.run(common + [f"--screenshot={out_png}", page.as_uri()], capture_output=True, timeout=120)
    return dom


def test_report_holds_every_figure(local_run, workflow_copy, tmp_path):
    html = tmp_path / "report.html"
    snakemake("--report", str(html), "layers_robustness", repo=workflow_copy, exp=local_run, config=SMALL)
    text = html.read_text()
    figures = ("robustness_diff_idx2_fgsm_epsilon.png", "robustness_scatter_idx2_fgsm_epsilon.png")
    assert all(f"filename={name};base64," in text for name in figures)  # each figure embedded in the page
    if chromium() is None:
        pytest.skip("no headless browser here (chromium): the report's HTML holds every figure, its rendering is "
                    "unchecked")
    for name in figures:
        shot = tmp_path / f"shot_{name}"
        dom = show_figure(html, name, shot)
        assert f'<img src="data:image/png;charset=utf8;filename={name};base64,' in dom, f"the report did not show {name}"
        from PIL import Image
        colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 500  # a drawn figure, not a blank or an error page
