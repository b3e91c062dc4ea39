"""From artifacts to tables: per-image robustness of the det, adv and Bayesian nets of one model idx.

Every figure script reads its numbers through here, so a missing artifact always gives the same clear
message naming the command that makes it.
"""
import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import torch

from ..artifacts import atomic_write, load_artifact, save_json
from ..metrics.robustness import (abs_topk_robustness, heatmap_spearman, l2_distance, lrp_robustness, mann_whitney_less,
                      spearman, tie_fraction, wilcoxon_paired)
from ..model_settings import get_settings
from ..errors import UserError
from ..networks.store import (attack_command, attack_fingerprint, current_fingerprint, lrp_command, net_dir,
                              train_command)
from ..networks.architectures import build_network
from ..paths import attack_file, lrp_file, weights_file
from ..variants import MODEL_KINDS, NOISE_DEFAULTS, STACKED_KINDS

TRAINED_KINDS = tuple(m for m in MODEL_KINDS if m not in NOISE_DEFAULTS)  # models with weights of their own

LABELS = {"baseNN": "Det", "advNN": "Adv", "fullBNN": "Bay", "ensemble": "Ensemble", "noisegrad": "NoiseGrad",
          "smoothgrad": "SmoothGrad"}
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "F. MNIST", "cifar": "CIFAR10"}


def learnable_layers(model_idx):
    return build_network(get_settings("fullBNN", model_idx)).learnable_layers


def _protocol(model, source, bayes_attack):
    """(source, definition) of the files to read: the baseNN's own attack is the shared det attack."""
    if source == "det" and model == "baseNN":
        return "own", "mean_of_attacks"
    return source, bayes_attack


def load_attack(root, model, model_idx, attack_method, n=None, debug=False, source="own", bayes_attack="mean_of_attacks",
                var=None):
    """The saved attack of one model: x_adv, softmax robustness, successful/failed flags, and its metadata."""
    source, bayes_attack = _protocol(model, source, bayes_attack)
    mdir = net_dir(root, model, model_idx, var=var)
    path = attack_file(mdir, attack_method, n, bayes_attack, source)
    hint = attack_command(model, model_idx, attack_method, var, source, bayes_attack,
                                  max(n, 100) if n and model == "fullBNN" else None, debug=debug)
    weights = weights_file(mdir, model)
    if not path.exists() and model in TRAINED_KINDS and not weights.exists():  # name the first missing stage
        raise UserError(f"{model} idx {model_idx} is not trained ({weights} not found); run: "
                        f"{train_command(model, model_idx, debug=debug, var=var)}")
    tensors, meta = load_artifact(path, {"n_samples": n}, what="attack", hint=hint)
    current = current_fingerprint(mdir, model, model_idx)
    if current is not None and meta.get("weights_fingerprint") != current:
        raise UserError(f"attack {path} is stale: the {model} idx {model_idx} it attacked was retrained since; re-run: {hint}")
    return tensors, meta


def load_heatmaps(root, model, model_idx, attack_method, rule, layer, n=None, lrp_method="avg_heatmap",
                  lrp_compat="default", debug=False, n_inputs=None, source="own", bayes_attack="mean_of_attacks",
                  var=None, attack_meta=None):
    """(clean heatmaps, attacked heatmaps) of one model at one layer, and the clean file's metadata.
    With `attack_meta` (the attack these maps should explain) a map made from other weights or other attacked
    images is refused as stale."""
    source, bayes_attack = _protocol(model, source, bayes_attack)
    mdir = net_dir(root, model, model_idx, var=var)
    hint = lrp_command(model, model_idx, attack_method, rule, lrp_method, lrp_compat, var, source, bayes_attack,
                       debug=debug)
    out = []
    for attacked in (False, True):
        path = lrp_file(mdir, attack_method, rule, layer, attacked, n, lrp_method, lrp_compat, bayes_attack, source)
        expect = {"layer_idx": layer, "n_samples": n, **({"n_inputs": n_inputs} if n_inputs else {})}
        tensors, meta = load_artifact(path, expect, what="heatmaps", hint=hint)
        if attack_meta is not None:
            explained = attack_meta.get("source_attack_fingerprint") or attack_fingerprint(attack_meta)
            made_from = meta.get("attack_fingerprints", {}).get(str(n), explained)
            if meta.get("weights_fingerprint") != attack_meta.get("weights_fingerprint") or made_from != explained:
                raise UserError(f"heatmaps {path} are stale: they explain another attack or other weights than "
                                f"{attack_file(mdir, attack_method, n, bayes_attack, source)}; re-run: {hint}")
        out.append(tensors["heatmaps"])
    return out[0], out[1], meta


def image_frame(h, h_adv, atk, topk, ties="index", seed=0):
    """Every per-image robustness measure of one model, rule and layer (one row per image). `lrp_robustness`
    breaks ties as `ties` says; `lrp_robustness_random_ties` always at random (the metric control)."""
    nan = torch.full((len(h),), float("nan"))
    return pd.DataFrame({
        "image": range(len(h)), "lrp_robustness": lrp_robustness(h, h_adv, topk, ties=ties, seed=seed).numpy(),
        "lrp_robustness_random_ties": lrp_robustness(h, h_adv, topk, ties="random", seed=seed).numpy(),
        "lrp_robustness_signed": lrp_robustness(h, h_adv, topk, signed=True).numpy(),
        "abs_topk_robustness": abs_topk_robustness(h, h_adv, topk).numpy(),
        "heatmap_spearman": heatmap_spearman(h, h_adv).numpy(),
        "l2_distance": l2_distance(h, h_adv).numpy(), "tie_fraction": tie_fraction(h).numpy(),
        "softmax_robustness": atk["softmax_robustness"].numpy(),
        "successful": atk["successful"].numpy(), "failed": atk["failed"].numpy(),
        "perturbation_l2": atk.get("perturbation_l2", nan).numpy(),
        "perturbation_linf": atk.get("perturbation_linf", nan).numpy()})


def robustness_frame(root, model_idx, attack_method, rules=("epsilon",), layers=None, n_list=(10, 50, 100), topk=20,
                     lrp_method="avg_heatmap", lrp_compat="default", debug=False, n_inputs=None, source="own",
                     ties="index", bayes_model="fullBNN", var=None):
    """One row per (rule, layer, model, n_samples, image) with every per-image robustness measure.
    `source="det"`: every model scored on the baseNN's adversarial images. `bayes_model` (with its variant `var`)
    takes the "Bay" place: a fullBNN, or an averaging baseline (ensemble, noisegrad, smoothgrad)."""
    settings = get_settings("fullBNN", model_idx)
    layers = layers or learnable_layers(model_idx)
    rows = []
    bay_ns = list(n_list) if bayes_model in STACKED_KINDS else [None]
    for model, ns, model_var in (("baseNN", [None], None), ("advNN", [None], None), (bayes_model, bay_ns, var)):
        bay = model == bayes_model
        for n in ns:
            atk, atk_meta = load_attack(root, model, model_idx, attack_method, n, debug, source=source, var=model_var)
            for rule in rules:
                for layer in layers:
                    h, h_adv, meta = load_heatmaps(root, model, model_idx, attack_method, rule, layer, n, lrp_method,
                                                   lrp_compat, debug, n_inputs, source=source, attack_meta=atk_meta,
                                                   var=model_var)
                    rows.append(image_frame(h, h_adv, atk, topk, ties).assign(
                        model_idx=model_idx, dataset=DATASET_NAMES[settings["dataset"]],
                        inference=settings["inference"], attack=attack_method, rule=rule, layer_idx=layer,
                        model="Bay" if bay else LABELS[model], bayes_model=bayes_model,
                        n_samples=(n or max(n_list)) if bay else 0, topk=topk, n_inputs=meta["n_inputs"]))
    return pd.concat(rows, ignore_index=True)


def differences(frame, n_list=(10, 50, 100)):
    """Per-image differences Adv - Det and Bay - Det (for each n) of the LRP robustness."""
    keys = ["rule", "layer_idx", "image"]
    det = frame[frame.model == "Det"].set_index(keys)["lrp_robustness"]
    out = []
    for label, sub in [("Adv - Det", frame[frame.model == "Adv"])] + \
            [("Bay - Det", frame[(frame.model == "Bay") & (frame.n_samples == n)]) for n in n_list]:
        s = sub.set_index(keys)["lrp_robustness"]
        d = (s - det.reindex(s.index)).rename("robustness_diff").reset_index()
        out.append(d.assign(comparison=label, n_samples=int(sub.n_samples.iloc[0]) if len(sub) else 0))
    return pd.concat(out, ignore_index=True)


def comparison_stats(frame, n_bay=100):
    """Per (rule, layer): medians and quartiles of Adv - Det and Bay - Det, the reference's one-sided
    Mann-Whitney p-values (det < adv, det < bay, adv < bay) and Wilcoxon signed-rank on the paired differences."""
    rows = []
    for (rule, layer), g in frame.groupby(["rule", "layer_idx"]):
        det = g[g.model == "Det"].sort_values("image").lrp_robustness.to_numpy()
        adv = g[g.model == "Adv"].sort_values("image").lrp_robustness.to_numpy()
        bay = g[(g.model == "Bay") & (g.n_samples == n_bay)].sort_values("image").lrp_robustness.to_numpy()
        row = {"rule": rule, "layer_idx": layer, "n_images": len(det)}
        for name, d in (("adv_minus_det", adv - det), ("bay_minus_det", bay - det)):
            row.update({f"{name}_median": float(pd.Series(d).median()), f"{name}_q1": float(pd.Series(d).quantile(.25)),
                        f"{name}_q3": float(pd.Series(d).quantile(.75)), f"{name}_wilcoxon_p": wilcoxon_paired(d)})
        for label, sub in (("det", g[g.model == "Det"]), ("adv", g[g.model == "Adv"]),
                           ("bay", g[(g.model == "Bay") & (g.n_samples == n_bay)])):  # the attacks' size and success
            row.update({f"{label}_perturbation_l2_mean": float(sub.perturbation_l2.mean()),
                        f"{label}_perturbation_linf_mean": float(sub.perturbation_linf.mean()),
                        f"{label}_attack_success_rate": float(sub.successful.sum() / max(1, (sub.successful | sub.failed).sum()))})
        row.update({"mw_p_det_less_adv": mann_whitney_less(det, adv), "mw_p_det_less_bay": mann_whitney_less(det, bay),
                    "mw_p_adv_less_bay": mann_whitney_less(adv, bay),
                    "wilcoxon_p_bay_minus_adv": wilcoxon_paired(bay - adv)})
        rows.append(row)
    return pd.DataFrame(rows)


def correlation_table(frame):
    """Spearman's rho of LRP robustness against softmax robustness, per model, n and layer (Fig. 6)."""
    rows = []
    for (rule, layer, model, n), g in frame.groupby(["rule", "layer_idx", "model", "n_samples"]):
        rows.append({"rule": rule, "layer_idx": layer, "model": model, "n_samples": n,
                     "spearman_rho": spearman(g.lrp_robustness, g.softmax_robustness),
                     "lrp_robustness_median": float(g.lrp_robustness.median()),
                     "softmax_robustness_median": float(g.softmax_robustness.median())})
    return pd.DataFrame(rows)


def save_csv(df, path):
    """Write a table beside its figure, atomically, with a sidecar `<name>.json` of its row count and sha256
    (so that `load_csv` never draws from a truncated or edited copy)."""
    text = df.to_csv(index=False, float_format="%.6g")
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    save_json(csv_sidecar(path), {"rows": len(df), "sha256": hashlib.sha256(text.encode()).hexdigest()})
    return path


def csv_sidecar(path):
    return Path(path).with_name(Path(path).name + ".json")


def load_csv(path, hint):
    """A table written by `save_csv`, refused in one line if missing, unreadable, truncated or edited since."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no cached table {path}; {hint}")
    try:
        text = path.read_text()
        record = json.loads(csv_sidecar(path).read_text())
    except (OSError, ValueError):
        raise UserError(f"the cached table {path} or its record {csv_sidecar(path).name} is missing or unreadable; "
                        f"{hint}") from None
    if not isinstance(record, dict) or hashlib.sha256(text.encode()).hexdigest() != record.get("sha256"):
        raise UserError(f"the cached table {path} was truncated or changed since it was written; {hint}")
    return pd.read_csv(io.StringIO(text))

