"""Adding a network is one settings entry (plus, for a new layout, one row of networks.ARCHITECTURES): two
entries added at run time, a small conv net with batch norm for CIFAR-10 and an fc3 for Fashion-MNIST, go
through the debug pipeline train -> attack -> LRP -> rules figure with the same scripts as the paper's nets,
and their saved heatmaps equal Zennit's."""
import pandas as pd
import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import LayerMapComposite
from zennit.rules import Pass

from conftest import run_inprocess
from test_lrp import ZENNIT_RULES
from utils import model_settings
from utils.networks import architectures as networks
from utils.artifacts import load_artifact
from utils.data.datasets import SUBSET_SEED, load_test_subset, provision
from utils.lrp.engine import RULES
from utils.networks.store import load_deterministic, net_dir
from utils.networks.architectures import Net, cut_end
from utils.paths import data_root, lrp_file

MODELS = ("baseNN", "advNN", "fullBNN")


def small_bn_conv(settings):
    """32 -> 28 -> 14 -> 10 -> 5: two conv + batch norm + ReLU + max-pool stages and a linear head."""
    h = settings["hidden_size"]
    return Net(nn.Conv2d(3, 8, 5), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
               nn.Conv2d(8, h, 5), nn.BatchNorm2d(h), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(h * 5 * 5, 10), input_shape=(3, 32, 32))


ENTRIES = {
    # det nets by the paper's Adam recipe; the Bayesian net by the sgd recipe's SVI (batch norm a point estimate)
    "cifar_bn_conv": {"dataset": "cifar", "architecture": "small_bn_conv", "hidden_size": 16,
                      "train": {"epochs": 1, "lr": 0.001},
                      "bayes": {"inference": "svi", "recipe": "sgd", "epochs": 1, "lr": 0.001, "batch_size": 100,
                                "n_val": 500, "num_mc": 1}},
    "fmnist_fc3": {"dataset": "fashion_mnist", "architecture": "fc3", "hidden_size": 64, "activation": "relu",
                   "train": {"epochs": 1, "lr": 0.001}, "bayes": {"inference": "svi", "epochs": 1, "lr": 0.001}},
}


def run(script, *args):
    code, out, err = run_inprocess(script, *args)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def new_entries(tmp_path_factory, data_dir):
    provision("cifar", data_dir)
    exp = tmp_path_factory.mktemp("new_entries")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(networks.ARCHITECTURES, "small_bn_conv", small_bn_conv)
        mp.setattr(model_settings, "SETTINGS", model_settings.SETTINGS + list(ENTRIES.values()))
        idx = {name: len(model_settings.SETTINGS) - len(ENTRIES) + i for i, name in enumerate(ENTRIES)}
        common = ("--debug", "--quiet", "--exp_dir", exp)
        for i in idx.values():
            for model in MODELS:  # fullBNN stores 10 samples; the BN net's starts from the trained baseNN
                run("train_networks", "--model", model, "--model_idx", i, "--n_store", 10, *common)
            for model in MODELS:
                run("attack_networks", "--model", model, "--model_idx", i, "--n_inputs", 20, *common)
                for rule in RULES:
                    run("compute_lrp", "--model", model, "--model_idx", i, "--rule", rule, "--n_inputs", 20, *common)
            run("lrp_rules_robustness", "--model_idx", i, "--n_samples", 10, "--n_inputs", 20, *common)
        yield exp / "debug", idx  # the entries stay in the table while the tests read the artifacts


@pytest.mark.parametrize("name", list(ENTRIES))
def test_a_new_entry_runs_the_whole_pipeline(new_entries, name):
    root, idx = new_entries
    i = idx[name]
    dataset = ENTRIES[name]["dataset"]
    stem = f"rules_robustness_{dataset}_svi_fgsm_samples=10_topk=20_model_idx={i}"
    stats = pd.read_csv(root / "figures" / "rules_robustness" / f"{stem}.csv")
    net, _ = load_deterministic(root, "baseNN", i)
    assert set(stats.rule) == set(RULES) and set(stats.layer_idx) == set(net.learnable_layers)
    post, meta = load_artifact(net_dir(root, "fullBNN", i) / "posterior.pt")
    assert all(v.shape[0] == 10 for v in post.values()) and meta["settings"]["architecture"] == ENTRIES[name]["architecture"]
    # the saved heatmaps of the trained baseNN are Zennit's (batch norm merged by its canonizer)
    x, _, _ = load_test_subset(dataset, 20, SUBSET_SEED, data_root(), root)
    net = net.double()
    for rule in RULES:
        for layer in (net.learnable_layers[-1], net.learnable_layers[0]):
            ours = load_artifact(lrp_file(net_dir(root, "baseNN", i), "fgsm", rule, layer, False))[0]["heatmaps"]
            cut = net[:cut_end(net, layer)]
            comp = LayerMapComposite(layer_map=[((nn.ReLU,), Pass()), ((nn.Linear, nn.Conv2d), ZENNIT_RULES[rule]())],
                                     canonizers=[SequentialMergeBatchNorm()])
            with Gradient(cut, comp) as attributor:
                out = cut(x.double()).flatten(1)
                seed = torch.nn.functional.one_hot(out.argmax(1), out.shape[1]).double().view_as(cut(x.double()))
                _, theirs = attributor(x.double(), seed)
            # float32 pipeline against float64 Zennit; batch norm eps 1e-5 (Zennit keeps sqrt(1 + eps) after merging)
            assert torch.allclose(ours.double(), theirs, atol=1e-4 * theirs.abs().max().item()), (name, rule, layer)
