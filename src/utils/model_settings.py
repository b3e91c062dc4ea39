"""The networks of the paper, one settings entry per model index (docs/pipeline.md, "Settings"), and the
profiles that scale them down.

An entry names the dataset and the architecture (with its sizes), the training recipe of its deterministic
and adversarially trained nets (`train`; `adv` overrides it for the advNN), and the Bayesian inference of
the same network (`bayes`). `--model_idx` is the entry's position. Add an architecture by appending an
entry (and, for a new layout, a builder in `networks.ARCHITECTURES`); every script serves it.

Profiles (`paper`, `cpu`, and `--debug` on top of either) are overrides of entries, keyed by
(model kind, model_idx); `overrides` resolves them, and each stage puts its flags over them.
"""
from .errors import UserError
from .variants import MODEL_KINDS

DATASETS = ("mnist", "fashion_mnist", "cifar")
# the architectures are the rows of networks.ARCHITECTURES; these take hidden_size and activation
SIZED_ARCHITECTURES = ("fc2", "fc3", "conv", "alexnet")
ACTIVATIONS = ("relu", "leaky", "sigm", "tanh", "softplus")
INFERENCES = ("svi", "hmc")
MODELS = MODEL_KINDS  # the paper's baseNN, advNN, fullBNN and the averaging baselines (utils/variants.py)
# The training recipes: "adam" (the paper's: Adam on the whole training set, the last epoch kept) and "sgd"
# (SGD with momentum, weight decay and a step schedule, crop-and-flip augmentation, and the best epoch on a
# held-out validation split; the Bayesian "sgd" recipe is its mean-field SVI counterpart with batch norm as a
# point estimate). `utils/training/recipes.py`.
RECIPES = ("adam", "sgd")
# What a fullBNN entry gets when --inference overrides its own choice (the controls study: SVI on the fc2 nets).
INFERENCE_DEFAULTS = {"svi": {"epochs": 5, "lr": 0.001}, "hmc": {"hmc_samples": 100, "warmup": 100}}
_SGD = {"recipe": "sgd", "lr": 0.1, "batch_size": 512, "milestones": [100, 150], "momentum": 0.9,
        "weight_decay": 1e-4, "n_val": 5000}

SETTINGS = [
    {"dataset": "mnist", "architecture": "conv", "hidden_size": 512, "activation": "leaky",
     "train": {"epochs": 5, "lr": 0.001}, "bayes": {"inference": "svi", "epochs": 5, "lr": 0.01}},
    {"dataset": "fashion_mnist", "architecture": "conv", "hidden_size": 1024, "activation": "leaky",
     "train": {"epochs": 10, "lr": 0.001}, "bayes": {"inference": "svi", "epochs": 15, "lr": 0.001}},
    {"dataset": "mnist", "architecture": "fc2", "hidden_size": 512, "activation": "leaky",
     "train": {"epochs": 15, "lr": 0.001}, "bayes": {"inference": "hmc", "hmc_samples": 100, "warmup": 100}},
    {"dataset": "fashion_mnist", "architecture": "fc2", "hidden_size": 1024, "activation": "leaky",
     "train": {"epochs": 15, "lr": 0.001}, "bayes": {"inference": "hmc", "hmc_samples": 100, "warmup": 100}},
    # the reference pairs this index's det net with a 256-unit softplus BNN; here both are one network
    {"dataset": "cifar", "architecture": "fc2", "hidden_size": 1024, "activation": "leaky",
     "train": {"epochs": 10, "lr": 0.001}, "bayes": {"inference": "svi", "epochs": 100, "lr": 0.001}},
    {"dataset": "cifar", "architecture": "alexnet", "hidden_size": 256, "activation": "leaky",
     "train": {"epochs": 10, "lr": 0.001}, "bayes": {"inference": "hmc", "hmc_samples": 100, "warmup": 100}},
    # the CIFAR-10 ResNet-20 of the full_test_cifar_*.py scripts (README, "CIFAR-10")
    {"dataset": "cifar", "architecture": "resnet20",
     "train": {**_SGD, "epochs": 200}, "adv": {"epochs": 150},
     "bayes": {"inference": "svi", "recipe": "sgd", "epochs": 200, "lr": 1e-3, "batch_size": 128, "n_val": 5000,
               "num_mc": 5}},
]
CIFAR_ROW_IDX = 6  # the entry Fig. 5's CIFAR-10 row and the full_test_cifar_*.py scripts read

# The CPU profile: per (model, model_idx) overrides that keep every stage meaningful on a 2-core machine (README,
# "CPU profile"); keys are flags of train_networks.py. A fullBNN whose --inference overrides its entry's takes the
# overrides keyed (model, idx, inference).
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
    # the ResNet-20: 8 epochs with the step schedule scaled down; the adversarial fine-tuning (one epoch at the
    # det net's last learning rate) and the Bayesian net (one epoch, one weight draw per batch) start from it
    ("baseNN", 6): {"epochs": 8, "batch_size": 128, "milestones": [4, 6]},
    ("advNN", 6): {"epochs": 1, "lr": 0.001, "batch_size": 128, "milestones": [], "init_from_det": True},
    ("fullBNN", 6): {"epochs": 1, "num_mc": 1, "init_from_det": True, "n_eval": 2000},
}
PROFILES = ("paper", "cpu")
# --debug, over either profile: a few hundred real images and one epoch, per model kind (fullBNN per inference),
# and per entry where a recipe needs more (the ResNet's validation split and its test images)
DEBUG_PROFILE = {
    "net": {"n_train": 1000, "epochs": 1},  # every kind but the fullBNN
    ("fullBNN", "svi"): {"n_train": 1000, "epochs": 1, "warmup": 10, "n_eval": 200, "hmc_kernel": "hmc"},
    ("fullBNN", "hmc"): {"n_train": 200, "epochs": 1, "warmup": 10, "n_eval": 200, "hmc_kernel": "hmc"},
    "sgd": {"batch_size": 100, "milestones": [], "n_val": 500, "num_mc": 1, "init_from_det": True, "n_eval": 200},
}
# Test-subset size (attacked and explained images): 500 at paper scale; the CPU profile's conv nets and ResNet
# cost 20-40x fc2 per image; --debug: 100 (the ResNet: 20)
PAPER_N_INPUTS = 500
CPU_PROFILE_N_INPUTS = {0: 200, 1: 200, 6: 200}
DEBUG_N_INPUTS = {6: 20}

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


def default_n_inputs(profile, model_idx, debug=False):
    if debug:
        return DEBUG_N_INPUTS.get(model_idx, 100)
    return CPU_PROFILE_N_INPUTS.get(model_idx, PAPER_N_INPUTS) if profile == "cpu" else PAPER_N_INPUTS


def overrides(profile, model, model_idx, inference=None, debug=False):
    """The one resolution of a profile: the overrides of `profile` (and of --debug over it) for one model, which
    each stage's flags then override. A fullBNN whose `inference` differs from its entry's takes the CPU overrides
    keyed (model, idx, inference)."""
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if model == "ensemble":  # the members are baseNNs
        model = "baseNN"
    entry = get_settings(model if model in ("baseNN", "advNN", "fullBNN") else "baseNN", model_idx, inference)
    over = {}
    if profile == "cpu":
        key = (model, model_idx, inference) if model == "fullBNN" and inference not in (None, _bayes(model_idx)) \
            else (model, model_idx)
        over.update(CPU_PROFILE.get(key, {}))
    if debug:
        over.update(DEBUG_PROFILE[(model, entry["inference"]) if model == "fullBNN" else "net"])
        if entry.get("recipe") == "sgd":
            over.update(DEBUG_PROFILE["sgd"])
    return over


def _bayes(model_idx):
    return SETTINGS[model_idx]["bayes"]["inference"]


def _check_idx(model, model_idx):
    if model not in MODELS:
        raise UserError(f"unknown --model {model!r}; choose one of {', '.join(MODELS)}")
    if not isinstance(model_idx, int) or isinstance(model_idx, bool) or not 0 <= model_idx < len(SETTINGS):
        raise UserError(f"unknown --model_idx {model_idx}; valid indices are 0..{len(SETTINGS) - 1} "
                        f"(src/utils/model_settings.py)")


_BAYES_FILL = ("epochs", "lr", "hmc_samples", "warmup")  # present (None where unused) in every fullBNN view


def get_settings(model, model_idx, inference=None):
    """The validated view of entry `model_idx` that `model` trains from: the network plus the recipe of its kind
    (baseNN and the baselines: `train`; advNN: `train` with `adv` over it; fullBNN: `bayes`). `inference`
    ("svi" | "hmc") overrides a fullBNN entry's, filling what it lacks from INFERENCE_DEFAULTS."""
    _check_idx(model, model_idx)
    entry = SETTINGS[model_idx]
    net = {k: v for k, v in entry.items() if k not in ("train", "adv", "bayes")}
    if model == "fullBNN":
        bayes = entry["bayes"] if inference in (None, entry["bayes"]["inference"]) else \
            {"inference": inference, **INFERENCE_DEFAULTS[inference]}
        settings = {**net, **{k: None for k in _BAYES_FILL}, **bayes}
    else:
        settings = {**net, **entry["train"], **(entry.get("adv", {}) if model == "advNN" else {})}
    validate_settings(settings, where=f"SETTINGS[{model_idx}] ({model})")
    return settings


def validate_settings(s, where="settings"):
    """Raise a UserError naming the first bad key of a settings view."""
    def bad(key, why):
        raise UserError(f"{where}: bad '{key}' = {s.get(key)!r}: {why} (src/utils/model_settings.py)")

    if s.get("dataset") not in DATASETS:
        bad("dataset", f"expected one of {', '.join(DATASETS)}")
    # The name itself is looked up in networks.ARCHITECTURES when the net is built (build_network refuses an unknown
    # one in a line): this module stays free of torch, so the workflow plans without importing it.
    if not isinstance(s.get("architecture"), str) or not s["architecture"]:
        bad("architecture", "expected the name of a row of networks.ARCHITECTURES")
    if s["architecture"] in SIZED_ARCHITECTURES:
        if s.get("activation") not in ACTIVATIONS:
            bad("activation", f"expected one of {', '.join(ACTIVATIONS)}")
        h = s.get("hidden_size")
        if not isinstance(h, int) or h < 16 or h & (h - 1):
            bad("hidden_size", "must be a power of 2 and at least 16")
    if s.get("recipe", "adam") not in RECIPES:
        bad("recipe", f"expected one of {', '.join(RECIPES)}")
    if "inference" in s:
        if s["inference"] not in INFERENCES:
            bad("inference", f"expected one of {', '.join(INFERENCES)}")
        need = ("epochs", "lr") if s["inference"] == "svi" else ("hmc_samples", "warmup")
    else:
        need = ("epochs", "lr")
    if s.get("recipe") == "sgd":
        need += ("batch_size", "n_val") + (("momentum", "weight_decay") if "inference" not in s else ("num_mc",))
    for key in need:
        v = s.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or (key not in ("warmup", "momentum", "weight_decay") and v == 0):
            bad(key, "must be a positive number")
