"""The controls study (docs/controls.md): does the Bayesian gain in LRP robustness survive its controls?

For each model idx it trains or loads every variant (Det, Adv, SVI at several KL weights and with the
reference's ELBO and guide init, HMC ours and the reference's, an ensemble, NoiseGrad, SmoothGrad),
attacks each under four protocols and explains each at the last layer with the three rules:
    own     the model's own attack (mean_of_attacks for a model of several samples: the paper's)
    det     the baseNN's adversarial images, the same for every model
    eot     expected_gradient, the attack along the posterior-mean gradient (EOT over the samples)
    random  a random-sign perturbation of the same eps: the floor (Ghorbani et al. 2019)
Then one table holds, per (dataset, variant, protocol, rule, metric), the median robustness, the median
per-image gain over Det under the same protocol with the paired Wilcoxon p, and per variant the clean and
adversarial accuracy, the perturbation's size and the deletion faithfulness of the clean maps.
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..lrp.engine import RULES
from ..metrics.robustness import deletion_drop, wilcoxon_paired
from .results import image_frame, learnable_layers, load_attack, load_heatmaps

METRICS = {"lrp_robustness": "top-k (paper)", "lrp_robustness_random_ties": "top-k, random ties",
           "abs_topk_robustness": "|R| top-k", "heatmap_spearman": "Spearman", "lrp_robustness_signed": "signed top-k"}


@dataclass(frozen=True)
class Protocol:
    name: str
    attack_method: str
    source: str = "own"
    bayes_attack: str = "mean_of_attacks"


PROTOCOLS = (Protocol("own", "fgsm"), Protocol("det", "fgsm", "det"), Protocol("eot", "fgsm", "own", "expected_gradient"),
             Protocol("random", "random", "det"))


@dataclass
class Variant:
    """One model of the study: a label, a model kind and the flags that select it."""
    label: str
    model: str
    flags: list = field(default_factory=list)

    @property
    def stacked(self):
        from ..variants import STACKED_KINDS
        return self.model in STACKED_KINDS

    def protocol(self, p):
        """The protocol as this model runs it: the baseNN's det attack is its own; a single-sample model's EOT too."""
        if self.model == "baseNN" and p.source == "det":
            return Protocol(p.name, p.attack_method)
        if not self.stacked and p.bayes_attack != "mean_of_attacks":
            return Protocol(p.name, p.attack_method)
        return p


def variants(model_idx, entry_inference, hmc_batch_size=4000, n_members=10):
    """Every variant of the study for one settings entry. HMC variants only for the fc entries (HMC on a conv net
    is out of reach on a CPU); SVI variants for every entry (`--inference svi` where the entry says HMC)."""
    svi = [] if entry_inference == "svi" else ["--inference", "svi"]
    out = [Variant("Det", "baseNN"), Variant("Adv", "advNN")]
    for init, tag in (("ours", ""), ("reference", ", ref. init")):
        init_flags = ["--svi_init", "reference"] if init == "reference" else []
        out += [Variant(f"SVI KL=1{tag}", "fullBNN", svi + init_flags),
                Variant(f"SVI KL=10{tag}", "fullBNN", svi + ["--kl_weight", "10"] + init_flags),
                Variant(f"SVI KL=100{tag}", "fullBNN", svi + ["--kl_weight", "100"] + init_flags),
                Variant(f"SVI ref. ELBO{tag}", "fullBNN", svi + ["--svi_elbo", "reference"] + init_flags)]
    if entry_inference == "hmc":
        out += [Variant("HMC", "fullBNN"),
                Variant("HMC ref.", "fullBNN", ["--hmc_scheme", "minibatch", "--hmc_init", "uniform",
                                                "--hmc_batch_size", str(hmc_batch_size)])]
    out += [Variant("Ensemble", "ensemble", ["--n_members", str(n_members)]), Variant("NoiseGrad", "noisegrad"),
            Variant("SmoothGrad", "smoothgrad")]
    return out


def model_flags(v):
    """The flags that identify the model (for the attack and LRP stages: without the training-only ones)."""
    out, skip = [], {"--hmc_batch_size"}
    it = iter(v.flags)
    for f in it:
        value = next(it)
        if f not in skip:
            out += [f, value]
    return out


# ----------------------------------------------------------------------------------------------
# The table
def _logit_fn(net, samples):
    """Images -> logits averaged over the model's samples (its explained output)."""
    from ..training.bayesian import per_sample_logits

    def fn(x):
        return per_sample_logits(net, samples, x).mean(0)
    return fn


def faithfulness(st, heat, topk, seed=0):
    """Median deletion drop of the explained logit for the top-k % pixels by relevance, and for as many random
    pixels (the baseline that any map beats only if it is faithful)."""
    logit = _logit_fn(st.net, st.samples)
    drop, _ = deletion_drop(logit, st.x.to(st.device), heat.to(st.device), topk)
    noise = torch.rand(heat.shape, generator=torch.Generator().manual_seed(seed))
    drop_random, _ = deletion_drop(logit, st.x.to(st.device), noise.to(st.device), topk)
    return float(drop.median()), float(drop_random.median())


def variant_frame(root, model_idx, v, protocols, layer, topk, debug, var, n_samples):
    """Per-image rows (protocol, rule, image) of one variant with every robustness measure."""
    rows = []
    n = n_samples if v.stacked else None
    for p in protocols:
        q = v.protocol(p)
        atk, atk_meta = load_attack(root, v.model, model_idx, q.attack_method, n, debug, source=q.source,
                                    bayes_attack=q.bayes_attack, var=var)
        for rule in RULES:
            h, h_adv, meta = load_heatmaps(root, v.model, model_idx, q.attack_method, rule, layer, n, debug=debug,
                                           source=q.source, bayes_attack=q.bayes_attack, var=var, attack_meta=atk_meta)
            frame = image_frame(h, h_adv, atk, topk, seed=model_idx)
            m = atk_meta["metrics"]
            rows.append(frame.assign(protocol=p.name, rule=rule, clean_accuracy=m["clean_accuracy"],
                                     adversarial_accuracy=m["adversarial_accuracy"],
                                     attack_success_rate=m["attack_success_rate"], n_inputs=meta["n_inputs"]))
    return pd.concat(rows, ignore_index=True)


def summarize(frames, model_info):
    """The study's table: one row per (dataset, variant, protocol, rule, metric).

    `frames[(idx, label)]` are the per-image rows of `variant_frame`; `model_info[(idx, label)]` holds the
    per-model numbers (accuracy, faithfulness per rule, ...)."""
    out = []
    for (idx, label), f in frames.items():
        det = frames[(idx, "Det")]
        for (protocol, rule), g in f.groupby(["protocol", "rule"]):
            d = det[(det.protocol == protocol) & (det.rule == rule)].set_index("image")
            g = g.set_index("image")
            info = model_info[(idx, label)]
            base = {"model_idx": idx, "dataset": info["dataset"], "variant": label, "protocol": protocol, "rule": rule,
                    "n_images": len(g), "clean_accuracy": g.clean_accuracy.iloc[0],
                    "adversarial_accuracy": g.adversarial_accuracy.iloc[0],
                    "attack_success_rate": g.attack_success_rate.iloc[0],
                    "perturbation_l2_mean": g.perturbation_l2.mean(), "perturbation_linf_mean": g.perturbation_linf.mean(),
                    "tie_fraction_median": g.tie_fraction.median(),
                    "deletion_drop_median": info["faithfulness"][rule][0],
                    "deletion_drop_random_median": info["faithfulness"][rule][1],
                    "deletion_ratio": info["faithfulness"][rule][0] / info["faithfulness"][rule][1]
                    if info["faithfulness"][rule][1] else float("nan"),
                    "test_accuracy": info.get("test_accuracy")}
            for metric in METRICS:
                diff = (g[metric] - d[metric].reindex(g.index)).to_numpy()
                out.append({**base, "metric": metric, "median": g[metric].median(),
                            "gain_over_det_median": float(np.median(diff)) if label != "Det" else 0.0,
                            "gain_over_det_wilcoxon_p": wilcoxon_paired(diff) if label != "Det" else float("nan"),
                            "fraction_positive": float((diff > 0).mean()) if label != "Det" else float("nan")})
    return pd.DataFrame(out)


def last_layer(model_idx):
    return learnable_layers(model_idx)[-1]
