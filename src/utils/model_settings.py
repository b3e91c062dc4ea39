"""The paper's network settings (docs/pipeline.md, "Settings"), and the CPU profile.

Add an architecture by appending an entry to `baseNN_settings` (deterministic and adversarially
trained nets) or `fullBNN_settings` (Bayesian nets); `--model_idx` is the entry's position.
Every entry is validated by `get_settings`, which names the bad key.
"""
from .errors import UserError
from .variants import MODEL_KINDS

DATASETS = ("mnist", "fashion_mnist", "cifar")
ARCHITECTURES = ("fc2", "fc3", "conv", "alexnet")
ACTIVATIONS = ("relu", "leaky", "sigm", "tanh", "softplus")
INFERENCES = ("svi", "hmc")
MODELS = MODEL_KINDS  # the paper's baseNN, advNN, fullBNN and the averaging baselines (utils/variants.py)
# What a fullBNN entry gets when --inference overrides its own choice (the controls study: SVI on the fc2 nets).
INFERENCE_DEFAULTS = {"svi": {"epochs": 5, "lr": 0.001}, "hmc": {"hmc_samples": 100, "warmup": 100}}

baseNN_settings = [
    {"dataset": "mnist", "hidden_size": 512, "activation": "leaky", "architecture": "conv", "epochs": 5, "lr": 0.001},
    {"dataset": "fashion_mnist", "hidden_size": 1024, "activation": "leaky", "architecture": "conv", "epochs": 10, "lr": 0.001},
    {"dataset": "mnist", "hidden_size": 512, "activation": "leaky", "architecture": "fc2", "epochs": 15, "lr": 0.001},
    {"dataset": "fashion_mnist", "hidden_size": 1024, "activation": "leaky", "architecture": "fc2", "epochs": 15, "lr": 0.001},
    {"dataset": "cifar", "hidden_size": 1024, "activation": "leaky", "architecture": "fc2", "epochs": 10, "lr": 0.001},
]

fullBNN_settings = [
    {"dataset": "mnist", "hidden_size": 512, "activation": "leaky", "architecture": "conv", "inference": "svi", "epochs": 5, "lr": 0.01, "hmc_samples": None, "warmup": None},
    {"dataset": "fashion_mnist", "hidden_size": 1024, "activation": "leaky", "architecture": "conv", "inference": "svi", "epochs": 15, "lr": 0.001, "hmc_samples": None, "warmup": None},
    {"dataset": "mnist", "hidden_size": 512, "activation": "leaky", "architecture": "fc2", "inference": "hmc", "epochs": None, "lr": None, "hmc_samples": 100, "warmup": 100},
    {"dataset": "fashion_mnist", "hidden_size": 1024, "activation": "leaky", "architecture": "fc2", "inference": "hmc", "epochs": None, "lr": None, "hmc_samples": 100, "warmup": 100},
    {"dataset": "cifar", "hidden_size": 256, "activation": "softplus", "architecture": "fc2", "inference": "svi", "epochs": 100, "lr": 0.001, "hmc_samples": None, "warmup": None},
    {"dataset": "cifar", "hidden_size": 256, "activation": "leaky", "architecture": "alexnet", "inference": "hmc", "epochs": None, "lr": None, "hmc_samples": 100, "warmup": 100},
]

# The CPU profile: per (model, model_idx) overrides that keep every stage meaningful on a 2-core
# machine (README, "CPU profile"). Keys are flags of train_networks.py; paper scale uses none.
CPU_PROFILE = {
    ("baseNN", 0): {"n_train": 20000, "epochs": 1},
    ("baseNN", 1): {"epochs": 1},
    ("baseNN", 2): {"epochs": 5},
    ("baseNN", 3): {"epochs": 5},
    # Fashion-MNIST: half clean, half FGSM loss (100 % FGSM-0.2 batches stay below 70 % clean accuracy);
    # the conv net (one epoch) starts from the trained baseNN
    ("advNN", 0): {"n_train": 20000, "epochs": 1},
    ("advNN", 1): {"epochs": 1, "adv_mix": 0.5, "init_from_det": True},
    ("advNN", 2): {"epochs": 5},
    ("advNN", 3): {"epochs": 5, "adv_mix": 0.5},
    ("fullBNN", 0): {"n_train": 20000, "epochs": 1, "n_eval": 2000},
    ("fullBNN", 1): {"epochs": 2, "n_eval": 2000},
    # HMC: one chain on a subset with the likelihood scaled to the full training set, from a MAP fit on all of it
    ("fullBNN", 2): {"n_train": 4000, "warmup": 50, "hmc_kernel": "hmc", "hmc_scale_likelihood": "full", "n_eval": 2000},
    ("fullBNN", 3): {"n_train": 2000, "warmup": 50, "hmc_kernel": "hmc", "hmc_scale_likelihood": "full", "n_eval": 2000},
    # SVI on the fc2 entries (--inference svi, the controls study, 8 variants per entry): 10k images, 2 epochs
    ("fullBNN", 2, "svi"): {"n_train": 10000, "epochs": 2, "n_eval": 2000},
    ("fullBNN", 3, "svi"): {"n_train": 10000, "epochs": 2, "n_eval": 2000},
}
PROFILES = ("paper", "cpu")

# CIFAR-10 ResNet-20 (README, "CIFAR-10"): flags of the full_test_cifar_*.py scripts at paper scale,
# the CPU profile's overrides (README, "CIFAR-10"), and a tiny debug run.
CIFAR_RESNET = {
    "det": {"epochs": 200, "lr": 0.1, "batch_size": 512, "milestones": [100, 150], "n_val": 5000},
    "adv": {"epochs": 150, "lr": 0.1, "batch_size": 512, "milestones": [100, 150], "n_val": 5000},
    "bayes": {"epochs": 200, "lr": 1e-3, "batch_size": 128, "num_mc": 5, "n_val": 5000},
    "test": {"test_inputs": 500, "n_eval": None},
}
CIFAR_CPU_PROFILE = {
    "det": {"epochs": 8, "batch_size": 128, "milestones": [4, 6]},
    "adv": {"epochs": 1, "lr": 0.001, "batch_size": 128, "milestones": [], "init_from_det": True},  # the det net's last lr
    "bayes": {"epochs": 1, "num_mc": 1, "init_from_det": True, "n_eval": 2000},
    "test": {"test_inputs": 200},
}
CIFAR_DEBUG = {"epochs": 1, "batch_size": 100, "milestones": [], "n_train": 1000, "n_val": 500, "num_mc": 1,
               "init_from_det": True, "test_inputs": 20, "n_eval": 200}
# The controls study (src/controls_study.py, exec_controls.sh): entries, test-subset size, ensemble size and the
# batch of the reference's minibatch HMC scheme (4000 at paper scale; the CPU profile's HMC subsets are 4000 / 2000
# images, cut in four chains as the reference's 60000 are cut in fifteen). The CPU profile's 100 images, the first
# 50 samples of each model of several samples and 5 ensemble members keep the study within 40 minutes on 2 cores.
CONTROLS_PROFILES = {
    "paper": {"model_idxs": [0, 2, 3], "n_inputs": 500, "n_samples": None, "n_members": 10, "hmc_batch_size": {}},
    "cpu": {"model_idxs": [2, 3], "n_inputs": 100, "n_samples": 50, "n_members": 5,
            "hmc_batch_size": {2: 1000, 3: 500}},
    # debug: the first 10 samples of every model (the tests' end-to-end run)
    "debug": {"model_idxs": [2, 3], "n_inputs": 100, "n_samples": 10, "n_members": 3, "hmc_batch_size": {2: 100, 3: 100}},
}
# Test-subset size per model_idx under the CPU profile (the conv nets cost 20-40x fc2 per image).
CPU_PROFILE_N_INPUTS = {0: 200, 1: 200}
PAPER_N_INPUTS = 500


def default_n_inputs(profile, model_idx):
    return CPU_PROFILE_N_INPUTS.get(model_idx, PAPER_N_INPUTS) if profile == "cpu" else PAPER_N_INPUTS


def profile_overrides(profile, model, model_idx, inference=None):
    """Flag overrides of `profile` for one model ({} at paper scale). A fullBNN whose `inference` overrides
    its entry's takes the overrides keyed (model, idx, inference)."""
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile != "cpu":
        return {}
    if model == "ensemble":  # the members are baseNNs
        model = "baseNN"
    if inference is not None and inference != fullBNN_settings[model_idx].get("inference"):
        return dict(CPU_PROFILE.get((model, model_idx, inference), {}))
    return dict(CPU_PROFILE.get((model, model_idx), {}))


def _table(model):
    if model not in MODELS:
        raise UserError(f"unknown --model {model!r}; choose one of {', '.join(MODELS)}")
    return fullBNN_settings if model == "fullBNN" else baseNN_settings


def get_settings(model, model_idx, inference=None):
    """The validated settings entry `model_idx` of `model`'s table; `inference` ("svi" | "hmc") overrides a
    fullBNN entry's, filling what it lacks from INFERENCE_DEFAULTS."""
    table = _table(model)
    if not isinstance(model_idx, int) or not 0 <= model_idx < len(table):
        raise UserError(f"unknown --model_idx {model_idx} for {model}; valid indices are 0..{len(table) - 1} "
                        f"(src/utils/model_settings.py)")
    settings = dict(table[model_idx])
    if model == "fullBNN" and inference is not None and inference != settings["inference"]:
        settings["inference"] = inference
        settings.update({k: v for k, v in INFERENCE_DEFAULTS[inference].items() if settings.get(k) is None})
    validate_settings(settings, where=f"{'fullBNN' if model == 'fullBNN' else 'baseNN'}_settings[{model_idx}]")
    return settings


def validate_settings(s, where="settings"):
    """Raise a UserError naming the first bad key of a settings entry."""
    def bad(key, why):
        raise UserError(f"{where}: bad '{key}' = {s.get(key)!r}: {why} (src/utils/model_settings.py)")

    for key, allowed in (("dataset", DATASETS), ("architecture", ARCHITECTURES), ("activation", ACTIVATIONS)):
        if s.get(key) not in allowed:
            bad(key, f"expected one of {', '.join(allowed)}")
    h = s.get("hidden_size")
    if not isinstance(h, int) or h < 16 or h & (h - 1):
        bad("hidden_size", "must be a power of 2 and at least 16")
    if "inference" in s:
        if s["inference"] not in INFERENCES:
            bad("inference", f"expected one of {', '.join(INFERENCES)}")
        need = ("epochs", "lr") if s["inference"] == "svi" else ("hmc_samples", "warmup")
    else:
        need = ("epochs", "lr")
    for key in need:
        v = s.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or (key != "warmup" and v == 0):
            bad(key, "must be a positive number")
