"""Out-of-range flags are refused by the parser with one line naming the flag (no run starts)."""
import pytest

import attack_networks
import compute_lrp
import train_networks
from conftest import assert_clean_error, run_process

BAD = [
    (train_networks, ["--epochs", "0"], "--epochs"), (train_networks, ["--n_train", "-5"], "--n_train"),
    (train_networks, ["--epsilon", "1.5"], "--epsilon"), (train_networks, ["--epsilon", "nan"], "--epsilon"),
    (train_networks, ["--seed", str(2**64)], "--seed"), (train_networks, ["--seed", "-1"], "--seed"),
    (train_networks, ["--kl_weight", "0"], "--kl_weight"), (train_networks, ["--kl_weight", "inf"], "--kl_weight"),
    (train_networks, ["--n_members", "0"], "--n_members"), (train_networks, ["--noise_std", "-0.1"], "--noise_std"),
    (train_networks, ["--n_eval", "0"], "--n_eval"), (train_networks, ["--warmup", "-1"], "--warmup"),
    (train_networks, ["--n_store", "0"], "--n_store"), (train_networks, ["--svi_elbo", "halfway"], "--svi_elbo"),
    (attack_networks, ["--epsilon", "-0.1"], "--epsilon"), (attack_networks, ["--pgd_steps", "-3"], "--pgd_steps"),
    (attack_networks, ["--pgd_step_size", "0"], "--pgd_step_size"), (attack_networks, ["--n_samples", "0"], "--n_samples"),
    (attack_networks, ["--n_inputs", "0"], "--n_inputs"), (attack_networks, ["--attack_source", "adv"], "--attack_source"),
    (compute_lrp, ["--layers", "x"], "--layers"), (compute_lrp, ["--rule", "lrp0"], "--rule"),
]


@pytest.mark.parametrize("script,args,flag", BAD, ids=[f"{s.__name__}{' '.join(a)}" for s, a, _ in BAD])
def test_out_of_range_flags_are_refused_in_one_line(script, args, flag, capsys):
    with pytest.raises(SystemExit) as stop:
        script.parse_args(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and flag in err[0], err


def test_a_refused_flag_is_one_line_from_the_command_line():
    assert_clean_error(run_process("attack_networks.py", "--epsilon", "nan"), "--epsilon", "must be a number in [0, 1]")
