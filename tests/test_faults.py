"""The fault suite: bad flags, missing, stale and corrupt artifacts, corrupt data, environment faults, a kill
mid-write. Each try must exit non-zero with one `error:` line and no traceback, and leave no new or changed
file in the experiments folder. The tries run in-process (the scripts' own `cli.run_main`) on a copy of the
tiny debug pipeline, so that a hundred of them cost seconds.
"""
import contextlib
import errno
import io
import os
import pickle
import shutil
import sys

import pytest
import torch

from conftest import run_inprocess

IDX = ("--model_idx", 2)


def files(root):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def assert_refused(exp, script, *args, fragment=None):
    before = files(exp)
    code, out, err = run_inprocess(script, *args, "--exp_dir", exp, "--quiet")
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code != 0, (script, args, err)
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, (script, args, err)
    if fragment:
        assert fragment in lines[0], (fragment, lines[0])
    assert files(exp) == before, (script, args, "wrote or changed files")
    assert "the pickle ran" not in out
    return lines[0]


@pytest.fixture(scope="module")
def exp(tiny_pipeline, tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "exp"
    shutil.copytree(tiny_pipeline, root)
    return root


FIG = ("lrp_robustness_diff", "lrp_heatmaps_layers", "lrp_rules_robustness")
BAD_FLAGS = [
    ("train_networks", ("--epochs", 0)), ("train_networks", ("--epochs", -3)), ("train_networks", ("--epochs", "x")),
    ("train_networks", ("--n_train", 0)), ("train_networks", ("--epsilon", "nan")), ("train_networks", ("--epsilon", 1.5)),
    ("train_networks", ("--epsilon", -0.1)), ("train_networks", ("--seed", 2 ** 64)), ("train_networks", ("--seed", -1)),
    ("train_networks", ("--model", "bogus")), ("train_networks", ("--model_idx", 99)),
    ("train_networks", ("--model_idx", -1)), ("train_networks", ("--model", "advNN", "--adv_mix", 2)),
    ("train_networks", ("--model", "fullBNN", "--kl_weight", 0)), ("train_networks", ("--noise_std", -1)),
    ("train_networks", ("--n_members", 0)), ("train_networks", ("--device", "tpu")), ("train_networks", ("--profile", "x")),
    ("train_networks", ("--attack_method", "bogus")), ("train_networks", ("--no_such_flag",)),
    ("train_networks", ("--model", "fullBNN", "--n_store", 0)), ("train_networks", ("--model", "fullBNN", "--warmup", -1)),
    ("train_networks", ("--model", "fullBNN", "--hmc_num_steps", 0)), ("train_networks", ("--model", "fullBNN", "--n_eval", 0)),
    ("attack_networks", ("--epsilon", "nan")), ("attack_networks", ("--epsilon", -1)), ("attack_networks", ("--epsilon", 2)),
    ("attack_networks", ("--n_samples", 0)), ("attack_networks", ("--n_inputs", 0)), ("attack_networks", ("--n_inputs", 15)),
    ("attack_networks", ("--attack_method", "bogus")), ("attack_networks", ("--bayes_attack", "bogus")),
    ("attack_networks", ("--attack_source", "bogus")), ("attack_networks", ("--pgd_steps", -1)),
    ("attack_networks", ("--pgd_step_size", 0)), ("attack_networks", ("--model_idx", 99)),
    ("attack_networks", ("--seed", 2 ** 64)), ("attack_networks", ("--model", "fullBNN", "--n_samples", 500)),
    ("compute_lrp", ("--rule", "bogus")), ("compute_lrp", ("--n_samples", 0)), ("compute_lrp", ("--n_inputs", -5)),
    ("compute_lrp", ("--lrp_compat", "bogus")), ("compute_lrp", ("--layers", 99)), ("compute_lrp", ("--model_idx", 99)),
    ("compute_lrp", ("--lrp_method", "bogus")), ("compute_lrp", ("--model", "fullBNN", "--n_samples", 500)),
    *[(f, a) for f in FIG for a in (("--topk", 0), ("--topk", 101), ("--n_samples", 0), ("--model_idx", 99),
                                   ("--attack_method", "bogus"), ("--ties", "bogus"))],
    ("lrp_robustness_diff", ("--n_samples", 500)), ("lrp_robustness_diff", ("--n_inputs", 500)),
    ("controls_study", ("--topk", 0)), ("controls_study", ("--n_members", 0)), ("controls_study", ("--model_idxs", -1)),
    ("summarize_results", ("--no_such_flag",)),
    ("lrp_rules_robustness_main", ("--model_idxs", -1)), ("lrp_rules_robustness_main", ("--cifar_n_inputs", 0)),
    *[("full_test_cifar_resnet", ("--mode", "test", flag, value)) for flag, value in (
        ("--epsilon", "nan"), ("--epsilon", 3), ("--test_inputs", 0), ("--n_eval", -1), ("--attack_method", "random"))],
    *[("full_test_cifar_resnet", ("--mode", "train", flag, value)) for flag, value in (
        ("--epochs", 0), ("--lr", -0.1), ("--batch_size", 0), ("--n_val", 0), ("--momentum", -1), ("--milestones", 0))],
    *[("full_test_cifar_bayesian_resnet", ("--mode", "train", flag, value)) for flag, value in (
        ("--num_mc", 0), ("--init_scale", 0), ("--n_store", 0))],
]
NO_IDX = ("summarize_results", "controls_study", "lrp_rules_robustness_main", "full_test_cifar_resnet",
          "full_test_cifar_bayesian_resnet")


@pytest.mark.parametrize("script,args", BAD_FLAGS, ids=[f"{s}{' '.join(map(str, a))}" for s, a in BAD_FLAGS])
def test_bad_flags_are_refused_in_one_line(exp, script, args):
    """Refused for the flag at fault: the error line names it, or its value."""
    flag = [a for a in args if str(a).startswith("--")][-1]
    value = str(args[-1])
    idx = () if script in NO_IDX else IDX
    line = assert_refused(exp, script, *idx, "--debug", *args)
    assert flag.lstrip("-") in line or f"{value!r}" in line or f" {value} " in line or f"={value}" in line, line


def test_cuda_asked_for_but_absent(exp):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for script in ("train_networks", "attack_networks", "compute_lrp"):
        assert_refused(exp, script, *IDX, "--debug", "--device", "cuda", fragment="CUDA is not available")


MISSING = [
    ("attack_networks", ("--model", "baseNN"), "python src/train_networks.py --model baseNN --model_idx 2"),
    ("attack_networks", ("--model", "fullBNN"), "python src/train_networks.py --model fullBNN --model_idx 2"),
    ("compute_lrp", ("--model", "baseNN"), "python src/train_networks.py --model baseNN"),
    ("lrp_robustness_diff", (), "python src/train_networks.py"),
    ("lrp_rules_robustness", ("--load",), "without --load"),
    ("lrp_heatmaps_layers", (), "python src/train_networks.py"),
]


@pytest.mark.parametrize("script,args,hint", MISSING, ids=[f"{s}{' '.join(a)}" for s, a, _ in MISSING])
def test_missing_artifacts_name_the_command(tmp_path, script, args, hint):
    empty = tmp_path / "exp"
    (empty / "debug").mkdir(parents=True)
    assert_refused(empty, script, *IDX, "--debug", *args, fragment=hint)


@contextlib.contextmanager
def replaced(path, data=None, tensors=None):
    """Overwrite one artifact for the duration of a try (raw bytes, or its tensors rewritten), then
    restore it and its JSON sidecar byte for byte, mtimes included."""
    keep = [(p, p.read_bytes(), p.stat()) for p in dict.fromkeys((path, path.with_suffix(".json"))) if p.exists()]
    try:
        if data is not None:
            path.write_bytes(data)
        else:
            from utils.artifacts import load_artifact, save_artifact
            t, m = load_artifact(path)
            save_artifact(path, tensors(t), m)
        yield
    finally:
        for p, blob, st in keep:
            p.write_bytes(blob)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))


class Evil:
    def __reduce__(self):
        return (print, ("the pickle ran",))


def corruptions(weights):
    good = weights.read_bytes()
    return {"truncated": good[: len(good) // 2], "empty": b"", "garbage": os.urandom(4096),
            "pickle": pickle.dumps({"meta": {}, "tensors": Evil()}),
            "meta of the wrong type": _torch_bytes({"meta": [1, 2], "tensors": {}}),
            "tensors of the wrong type": _torch_bytes({"meta": {"model": "baseNN"}, "tensors": [1]})}


def _torch_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def det_dir(exp):
    return exp / "debug" / "baseNN" / "mnist_fc2_idx=2"


CORRUPT_KINDS = ("truncated", "empty", "garbage", "pickle", "meta of the wrong type", "tensors of the wrong type")
CONSUMERS = [("attack_networks", ("--model", "baseNN")), ("compute_lrp", ("--model", "baseNN")),
             ("train_networks", ("--model", "baseNN", "--load"))]


@pytest.mark.parametrize("kind", CORRUPT_KINDS)
@pytest.mark.parametrize("script,args", CONSUMERS, ids=[s for s, _ in CONSUMERS])
def test_corrupt_weights_are_refused(exp, kind, script, args):
    weights = det_dir(exp) / "weights.pt"
    with replaced(weights, data=corruptions(weights)[kind]):
        assert_refused(exp, script, *IDX, "--debug", *args)


def test_corrupt_attack_heatmap_and_subset_files_are_refused(exp):
    attack = det_dir(exp) / "fgsm" / "attacks" / "fgsm_attack.pt"
    heat = det_dir(exp) / "fgsm" / "epsilon_lrp" / "layer_idx=5" / "det_attack_lrp.pt"
    subset = next((exp / "debug" / "subsets").glob("mnist_n=100_*.pt"))
    for path, script, args in ((attack, "compute_lrp", ("--model", "baseNN")), (attack, "lrp_robustness_diff", ()),
                               (heat, "lrp_robustness_diff", ()), (subset, "attack_networks", ("--model", "baseNN"))):
        for kind in ("truncated", "garbage", "pickle"):
            with replaced(path, data=corruptions(path)[kind]):
                assert_refused(exp, script, *IDX, "--debug", *args)
    with replaced(subset, tensors=lambda t: {"indices": t["indices"] + 10 ** 6}):
        assert_refused(exp, "attack_networks", *IDX, "--debug", "--model", "baseNN", fragment="out of range")


def test_weights_with_nan_are_refused(exp):
    with replaced(det_dir(exp) / "weights.pt", tensors=lambda t: {**t, "1.bias": t["1.bias"] * float("nan")}):
        assert_refused(exp, "attack_networks", *IDX, "--debug", "--model", "baseNN", fragment="non-finite")


def test_a_corrupt_sidecar_is_refused(exp):
    sidecar = det_dir(exp) / "weights.json"
    for data in (b"{not json", b"[1, 2]", b'{"model": "baseNN"}'):
        with replaced(sidecar, data=data):
            if data.startswith(b"{not"):
                assert_refused(exp, "lrp_robustness_diff", *IDX, "--debug")
            code, _, err = run_inprocess("summarize_results", "--debug", "--exp_dir", exp)
            assert code == 2 and err.startswith("error: sidecar") and err.count("\n") == 1, err


def test_cached_tables_are_never_drawn_from_in_part(exp):
    assert run_inprocess("lrp_rules_robustness", *IDX, "--debug", "--quiet", "--exp_dir", exp)[0] == 0
    # the table this run wrote (earlier tests may have left others beside it)
    csv = max((exp / "debug" / "figures").rglob("*rules*_data.csv"), key=lambda p: p.stat().st_mtime_ns)
    text = csv.read_bytes()
    for data in (text[: len(text) // 2], text.replace(b"0.", b"9.", 1), b"", b"\x00\xff"):
        with replaced(csv, data=data):
            assert_refused(exp, "lrp_rules_robustness", *IDX, "--debug", "--load", fragment="without --load")
    sidecar = csv.with_name(csv.name + ".json")
    with replaced(sidecar, data=b"{"):
        assert_refused(exp, "lrp_rules_robustness", *IDX, "--debug", "--load")


def test_environment_faults(exp, tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for where in (a_file, a_file / "below"):
        code, _, err = run_inprocess("train_networks", *IDX, "--debug", "--quiet", "--exp_dir", where)
        assert code != 0 and err.count("\n") == 1 and "experiments folder" in err, err
    assert a_file.read_text() == "x"
    code, _, err = run_inprocess("train_networks", *IDX, "--debug", "--quiet", "--data_dir", a_file, "--exp_dir", exp)
    assert code != 0 and err.startswith("error:") and err.count("\n") == 1, err
    # a full disk and a read-only disk, when the artifact is written after training: one line, nothing left behind
    for code_ in (errno.ENOSPC, errno.EROFS):
        def fail(*_a, code_=code_, **_k):
            raise OSError(code_, os.strerror(code_), "weights.pt")
        monkeypatch.setattr(torch, "save", fail)
        assert_refused(exp, "train_networks", *IDX, "--debug", "--model", "baseNN", "--seed", 5,
                       fragment=os.strerror(code_))
        monkeypatch.undo()


KILL_IN_WRITE = """
import os, runpy, signal, sys
sys.path.insert(0, sys.argv[1])
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # the process dies with the artifact written to .tmp
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def killed(script, *args):
    import subprocess
    from utils.paths import REPO
    proc = subprocess.run([sys.executable, "-c", KILL_IN_WRITE, str(REPO / "src"), str(REPO / "src" / script),
                           *map(str, args)], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == -9, proc.stderr


def test_kills_during_training_and_lrp_leave_nothing_readable_and_the_rerun_resumes(tmp_path, data_dir):
    """SIGKILL at the worst moment (the artifact complete in its temporary file, not yet renamed), during
    training and during LRP: no artifact appears, the hidden .tmp file is never read, and the rerun with
    --skip_current completes and removes it."""
    from conftest import run_script
    from utils.data.datasets import load_dataset
    load_dataset("mnist", data_dir, train=True)  # the data's verification stamp is current: the first write
    exp = tmp_path / "exp"                       # of the killed run is its own artifact
    common = ("--model", "baseNN", *IDX, "--debug", "--quiet", "--exp_dir", exp)
    killed("train_networks.py", *common)
    visible = [p for p in exp.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert visible == [] and len(list(exp.rglob(".weights.pt.*.tmp"))) == 1
    assert_refused(exp, "attack_networks", *common[:-2], fragment="python src/train_networks.py")
    for script in ("train_networks.py", "attack_networks.py"):
        assert run_script(script, *common, "--skip_current").returncode == 0
    assert list(exp.rglob("*.tmp")) == []
    killed("compute_lrp.py", *common)
    assert [p for p in exp.rglob("*lrp.pt")] == [] and len(list(exp.rglob(".*.tmp"))) == 1
    proc = run_script("compute_lrp.py", *common, "--skip_current")
    assert proc.returncode == 0 and list(exp.rglob("*.tmp")) == [] and len(list(exp.rglob("*lrp.pt"))) == 6


def test_the_same_seed_reproduces_every_artifact_bit_for_bit(tiny_pipeline, tmp_path):
    """Train, attack and explain the baseNN again, and attack the Bayesian net's stored posterior again, in a new
    folder: every tensor equals the tiny pipeline's, bit for bit."""
    from utils.artifacts import load_artifact
    exp = tmp_path / "exp"
    post = next((tiny_pipeline / "debug" / "fullBNN").glob("mnist_fc2_idx=2*"))
    shutil.copytree(post, exp / "debug" / "fullBNN" / post.name, ignore=shutil.ignore_patterns("fgsm*"))
    common = (*IDX, "--debug", "--quiet", "--exp_dir", exp)
    for script, model in (("train_networks", "baseNN"), ("attack_networks", "baseNN"), ("compute_lrp", "baseNN"),
                          ("attack_networks", "fullBNN")):
        code, _, err = run_inprocess(script, "--model", model, *common)
        assert code == 0, err
    new = [p for p in exp.rglob("*.pt") if "fullBNN" not in p.parts or "attacks" in p.parts]
    assert len(new) > 10
    for path in new:
        old = tiny_pipeline / path.relative_to(exp)
        a, b = load_artifact(path)[0], load_artifact(old)[0]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), path
