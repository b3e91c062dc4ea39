"""train_networks.py and get_data.py as a user runs them, including every error case."""
import json

import pytest
import torch

from conftest import assert_clean_error, run_process, run_script


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    exp = tmp_path_factory.mktemp("exp")
    proc = run_process("train_networks.py", "--model", "advNN", "--model_idx", "2", "--debug", "--quiet",
                       "--exp_dir", exp)  # a fresh interpreter, as a user's run
    assert proc.returncode == 0, proc.stderr
    return exp, proc


def test_train_writes_weights_sidecar_and_metrics(trained):
    exp, proc = trained
    mdir = exp / "debug" / "advNN" / "mnist_fc2_idx=2_atk=fgsm"
    meta = json.loads((mdir / "weights.json").read_text())
    assert meta["adversarial"] == {"method": "fgsm", "eps": 0.2, "mix": 1.0} and meta["n_train"] == 1000
    assert "Accuracy:" in proc.stdout and "[Epoch 1]" in proc.stdout
    assert json.loads((mdir / "metrics.json").read_text())["test_accuracy"] > 0.2  # 1 epoch of 100 % adversarial training on 1000 images
    assert not list(mdir.glob("*.tmp")) and not list(mdir.glob(".*"))


def test_load_re_evaluates_without_training(trained):
    exp, proc = trained
    again = run_script("train_networks.py", "--model", "advNN", "--model_idx", "2", "--debug", "--load",
                       "--exp_dir", exp)
    assert again.returncode == 0, again.stderr
    assert "[Epoch" not in again.stdout
    assert again.stdout.strip().splitlines()[-1] == [l for l in proc.stdout.splitlines() if "Accuracy" in l][0]


def test_corrupt_weights_file_is_refused(trained, tmp_path):
    exp, _ = trained
    weights = exp / "debug" / "advNN" / "mnist_fc2_idx=2_atk=fgsm" / "weights.pt"
    backup = weights.read_bytes()
    weights.write_bytes(backup[: len(backup) // 3])
    try:
        proc = run_script("train_networks.py", "--model", "advNN", "--model_idx", "2", "--debug", "--load",
                          "--exp_dir", exp)
        assert_clean_error(proc, "corrupt", "python src/train_networks.py --model advNN --model_idx 2")
    finally:
        weights.write_bytes(backup)


def test_missing_weights_name_the_train_command(tmp_path, data_dir):
    proc = run_script("train_networks.py", "--model", "baseNN", "--model_idx", "3", "--load", "--exp_dir", tmp_path)
    assert_clean_error(proc, "not found", "python src/train_networks.py --model baseNN --model_idx 3")


@pytest.mark.parametrize("args,fragment", [
    (["--model", "bigNN"], "unknown --model"),
    (["--model_idx", "42"], "unknown --model_idx 42"),
    (["--model", "fullBNN", "--model_idx", "7"], "unknown --model_idx 7"),
    (["--adv_mix", "1.5", "--model", "advNN"], "--adv_mix"),
])
def test_bad_flags_give_one_clear_line(args, fragment, tmp_path):
    assert_clean_error(run_script("train_networks.py", *args, "--exp_dir", tmp_path), fragment)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda(tmp_path):
    assert_clean_error(run_script("train_networks.py", "--device", "cuda", "--exp_dir", tmp_path), "CUDA is not available")


def test_missing_data_names_the_provisioning_command(tmp_path):
    proc = run_process("train_networks.py", "--model_idx", "2", "--exp_dir", tmp_path, env={"BLRP_DATA": str(tmp_path / "none")})
    assert_clean_error(proc, "python src/get_data.py --dataset mnist")
    assert not (tmp_path / "baseNN").exists()


def test_get_data_is_idempotent_and_verifies(data_dir):
    proc = run_script("get_data.py", "--dataset", "mnist")
    assert proc.returncode == 0 and "verified" in proc.stdout


@pytest.mark.parametrize("idx,inference", [(2, "HMC"), (0, "SVI")])
def test_fullbnn_trains_stores_and_reloads(idx, inference, tmp_path, data_dir):
    proc = run_script("train_networks.py", "--model", "fullBNN", "--model_idx", idx, "--debug", "--quiet", "--exp_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"by {inference}" in proc.stdout and "Accuracy with 100 samples" in proc.stdout
    mdir = next((tmp_path / "debug" / "fullBNN").iterdir())
    meta = json.loads((mdir / "posterior.json").read_text())
    assert meta["inference"] == inference.lower() and meta["n_store"] == 100
    if inference == "HMC":
        assert {"acceptance_rate", "step_size", "divergences", "mean_leapfrog_steps"} <= set(meta["diagnostics"])
        assert "acceptance" in proc.stdout
    else:
        assert (mdir / "training.png").stat().st_size > 1000
    again = run_script("train_networks.py", "--model", "fullBNN", "--model_idx", idx, "--debug", "--load", "--exp_dir", tmp_path)
    assert again.returncode == 0 and [l for l in again.stdout.splitlines() if "Accuracy with 100" in l] == \
        [l for l in proc.stdout.splitlines() if "Accuracy with 100" in l]
    current = run_script("train_networks.py", "--model", "fullBNN", "--model_idx", idx, "--debug", "--skip_current",
                         "--exp_dir", tmp_path)
    assert "up to date" in current.stdout


def test_profile_keys_are_real_flags():
    """Every CPU-profile and debug override names a flag of train_networks.py (a typo would be silently ignored)."""
    import train_networks
    from utils.model_settings import CPU_PROFILE, DEBUG_PROFILE
    dests = {a.dest for a in train_networks.build_parser()._actions}
    for over in (*CPU_PROFILE.values(), *DEBUG_PROFILE.values()):
        assert set(over) <= dests, set(over) - dests


def test_adversarial_training_can_start_from_the_trained_baseNN(tmp_path, data_dir):
    args = ("--model_idx", "2", "--debug", "--quiet", "--exp_dir", tmp_path)
    proc = run_script("train_networks.py", "--model", "advNN", "--init_from_det", *args)
    assert_clean_error(proc, "train_networks.py --model baseNN --model_idx 2")
    assert run_script("train_networks.py", "--model", "baseNN", *args).returncode == 0
    proc = run_script("train_networks.py", "--model", "advNN", "--init_from_det", "--adv_mix", "0.5", *args)
    assert proc.returncode == 0 and "starting from the trained baseNN" in proc.stdout, proc.stderr
    meta = json.loads((tmp_path / "debug" / "advNN" / "mnist_fc2_idx=2_atk=fgsm" / "weights.json").read_text())
    assert meta["init_from_det"] and len(meta["init_fingerprint"]) == 12 and meta["adversarial"]["mix"] == 0.5
