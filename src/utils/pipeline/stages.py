"""The attack and LRP stages over a model held as stacked samples, shared by `attack_networks.py`,
`compute_lrp.py` and the CIFAR-10 scripts' `--mode test` (one pipeline for every network)."""
import resource
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..artifacts import load_artifact, matches, save_artifact
from ..attacks.gradient import attack, evaluate_attack, prefix_means
from ..lrp.engine import lrp_chunked, per_sample_heatmaps
from ..networks.posterior import first_samples, n_stored


@dataclass(frozen=True)
class AttackSpec:
    """One attack: its method and strength, the definition for a model of several samples, its seed and PGD steps."""
    method: str
    eps: float
    definition: str = "mean_of_attacks"
    seed: int = 0
    pgd_steps: int = 40
    pgd_step_size: float = 0.01


@dataclass(frozen=True)
class RunOptions:
    """How a stage runs: where, whether it only loads or skips current artifacts, its hint, title and progress bars."""
    device: object = "cpu"
    load: bool = False
    skip_current: bool = False
    hint: str = ""
    title: str = ""
    quiet: bool = False


@dataclass(frozen=True)
class LRPSpec:
    """What the heatmaps explain (docs/lrp.md): the rule, how a Bayesian net's maps combine (`method`), the
    reference's quirks or ours (`compat`), the learnable layers (None: all), and SmoothGrad's input noise
    (std, draws, seed; None for every other model)."""
    rule: str
    method: str = "avg_heatmap"
    compat: str = "default"
    layers: tuple = None
    input_noise: tuple = None


def run_attacks(net, samples, x, y, spec, paths, meta, opts=RunOptions(), grid=True, given=None):
    """Attack the model as `spec` says, evaluate and save one artifact per sample count n (`paths`: {n: path}, n None
    for a deterministic net). With the per-sample `mean_of_attacks`, smaller n are prefix means of one run.
    `given`: adversarial images made elsewhere (the baseNN's, for `--attack_source det`), only evaluated here.
    Returns {n: x_adv}."""
    from ..figures.plots import attack_grid
    method, eps, device, title = spec.method, spec.eps, opts.device, opts.title
    load, skip_current, hint = opts.load, opts.skip_current, opts.hint
    if skip_current and all(matches(p, {**meta, "n_samples": n}) for n, p in paths.items()):
        print(f"attacks up to date: {', '.join(str(p) for p in paths.values())}")
        return {n: load_artifact(p, what="attack")[0]["x_adv"] for n, p in paths.items()}
    bayes = next(iter(paths)) is not None
    if load:
        adv = {n: load_artifact(p, {**meta, "n_samples": n}, what="attack", hint=hint)[0]["x_adv"] for n, p in paths.items()}
    else:
        if given is not None:
            out = given
        else:
            with tqdm(total=len(x) * n_stored(samples), desc=f"{method} on {title}", unit="img",
                      disable=opts.quiet) as bar:
                out = attack(net, samples, x.to(device), y.to(device), method, eps, spec.definition, spec.seed,
                             spec.pgd_steps, spec.pgd_step_size, progress=bar)
        if out.dim() == x.dim():  # one attack shared by every sample
            adv = {n: out for n in paths}
        else:  # per-sample adversarial images (S, N, ...)
            adv = prefix_means(out, list(paths)) if bayes else {None: out[0]}
    for n, x_adv in adv.items():
        metrics, tensors = evaluate_attack(net, first_samples(samples, n), x, x_adv, y, device)
        label = f"n_samples={n} " if n else ""
        print(f"{label}test accuracy = {100 * metrics['clean_accuracy']:.2f}%\tadversarial accuracy = "
              f"{100 * metrics['adversarial_accuracy']:.2f}%\tsuccess rate = {100 * metrics['attack_success_rate']:.2f}%")
        print(f"{label}avg softmax robustness = {metrics['softmax_robustness_mean']:.4f} (min = "
              f"{metrics['softmax_robustness_min']:.4f} max = {metrics['softmax_robustness_max']:.4f})\t"
              f"perturbation: mean L2 = {metrics['perturbation_l2_mean']:.3f}, mean Linf = "
              f"{metrics['perturbation_linf_mean']:.3f}")
        if not load:
            save_artifact(paths[n], {"x_adv": x_adv, **tensors}, {**meta, "n_samples": n, "metrics": metrics})
            if grid:
                attack_grid(x, x_adv, paths[n].with_suffix(".png"), title=f"{title}, {method} eps={eps}"
                            + (f", n={n}" if n else ""))
            print(f"saved {paths[n]}")
    return adv


def lrp_set(st, attack_method, source, bayes_attack, spec, profile="paper", debug=False, all_n=True):
    """One attack protocol's input to `run_lrp_sets`: its attacked images per n (loaded from the model's own
    attack artifacts, or the baseNN's images for source "det"), file names and metadata for the LRPSpec `spec`.
    `st` is what `networks.store.stage_inputs` returns; `all_n=False` keeps only the largest n."""
    from ..networks.store import attack_command, attack_fingerprint, attack_protocol, det_attack
    from ..paths import attack_file, lrp_file
    bayes_attack, n_list = attack_protocol(st.bayes, n_stored(st.samples), attack_method, source, bayes_attack)
    n_list = n_list if all_n else n_list[-1:]
    model, idx = st.meta["model"], st.meta["model_idx"]
    extra = {}
    if source == "det":
        images, det_meta = det_attack(st.root, idx, attack_method, st.n_inputs, profile, debug)
        x_adv = {n: images for n in n_list}
        extra["source_fingerprint"] = det_meta["weights_fingerprint"]
        extra["attack_fingerprints"] = {str(n): attack_fingerprint(det_meta) for n in n_list}
    else:
        hint = attack_command(model, idx, attack_method, st.var, bayes_attack=bayes_attack, profile=profile, debug=debug)
        expect = {"weights_fingerprint": st.fingerprint, "n_inputs": st.n_inputs, "attack_method": attack_method}
        x_adv, extra["attack_fingerprints"] = {}, {}
        for n in n_list:
            tensors, atk_meta = load_artifact(attack_file(st.mdir, attack_method, n, bayes_attack),
                                              {**expect, "n_samples": n}, what="attack", hint=hint)
            x_adv[n], extra["attack_fingerprints"][str(n)] = tensors["x_adv"], attack_fingerprint(atk_meta)
    meta = {"model": model, "model_idx": idx, "rule": spec.rule, "attack_method": attack_method,
            "lrp_method": spec.method if st.bayes else None, "lrp_compat": spec.compat, "n_inputs": st.n_inputs,
            "weights_fingerprint": st.fingerprint, "bayes_attack": bayes_attack if st.bayes else None,
            "attack_source": source, **extra}
    if st.input_noise is not None:
        meta["input_noise"] = list(smoothgrad_noise(st))
    path = lambda L, attacked, n: lrp_file(st.mdir, attack_method, spec.rule, L, attacked, n,  # noqa: E731
                                           spec.method, spec.compat, bayes_attack, source)
    return {"x_adv": x_adv, "path": path, "meta": meta, "n_list": n_list}


def smoothgrad_noise(st):
    """(std, draws, seed) of a SmoothGrad model's input noise, None for every other model."""
    from ..variants import N_NOISE_DRAWS
    return None if st.input_noise is None else (st.input_noise, N_NOISE_DRAWS, st.meta["seed"])


def noisy_copies(x, std, n_draws, seed):
    """SmoothGrad's inputs: (n_draws, N, ...) copies of x plus N(0, std^2) noise from a generator seeded by `seed`
    (the same noise for clean and attacked images, so their maps differ by the attack alone)."""
    noise = torch.randn((n_draws, *x.shape), generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    return x.cpu().unsqueeze(0) + std * noise


def _heatmaps(net, samples, x, layer, rule, compat, method, input_noise, progress=None):
    """The sample-averaged heatmaps of x; with `input_noise` (std, draws, seed) the SmoothGrad average over
    noisy copies of x, explained by the net's single sample."""
    if input_noise is None:
        return lrp_chunked(net, samples, x, layer, rule, compat, method, progress=progress)
    std, draws, seed = input_noise
    copies = noisy_copies(x, std, draws, seed).to(x.device)
    expanded = {k: v.expand(draws, *v.shape[1:]) for k, v in samples.items()}
    return lrp_chunked(net, expanded, copies, layer, rule, compat, method, progress=progress)


def run_lrp_sets(net, samples, x, sets, spec, opts=RunOptions()):
    """Heatmaps of the clean images and of several attack protocols at once: the clean maps are computed
    once and written beside each protocol's attacked maps.

    Each set is {"x_adv": {n: images}, "path": path(layer, attacked, n), "meta": {...}, "n_list": [n, ...]}.
    For a model of several samples (n not None) with avg_heatmap, the clean maps of every n are prefix
    means of one set of per-sample maps, and so are a set's attacked maps when all its n share one image set.
    With `spec.input_noise`, SmoothGrad: the average over noisy copies of each image. `opts`: the device, whether
    current artifacts are skipped, the progress bar's title and whether it shows.
    Returns the directory of the first set's first layer's files."""
    rule, lrp_method, lrp_compat, input_noise = spec.rule, spec.method, spec.compat, spec.input_noise
    device, skip_current = opts.device, opts.skip_current
    layers = list(spec.layers or net.learnable_layers)
    first = sets[0]
    where = first["path"](layers[0], False, first["n_list"][0]).parents[1]
    todo = [st for st in sets if not (skip_current and all(
        matches(st["path"](L, a, n), {**st["meta"], "layer_idx": L, "n_samples": n})
        for L in layers for a in (False, True) for n in st["n_list"]))]
    if not todo:
        print(f"heatmaps up to date under {where}")
        return where
    all_n = sorted({n for st in todo for n in st["n_list"]}, key=lambda n: -1 if n is None else n)
    bayes = all_n[0] is not None
    s_total = n_stored(samples)
    x = x.to(device)
    prefix = bayes and lrp_method == "avg_heatmap"
    for st in todo:
        st["shared"] = prefix and len({id(st["x_adv"][n]) for n in st["n_list"]}) == 1
    per_layer = len(x) * (s_total + sum(s_total if st["shared"] else sum(n or 1 for n in st["n_list"]) for st in todo))
    with tqdm(total=per_layer * len(layers), desc=f"LRP {rule} {opts.title}", unit="map", disable=opts.quiet) as bar:
        for L in layers:
            if prefix:
                per_sample = per_sample_heatmaps(net, samples, x, L, rule, lrp_compat)
                clean = {n: per_sample[:n].mean(0) for n in all_n}
            else:
                clean = {n: _heatmaps(net, first_samples(samples, n), x, L, rule, lrp_compat, lrp_method, input_noise)
                         for n in all_n}
            bar.update(len(x) * s_total)
            for st in todo:
                if st["shared"]:
                    per_sample = per_sample_heatmaps(net, samples, st["x_adv"][st["n_list"][0]].to(device), L, rule,
                                                     lrp_compat)
                    attacked = {n: per_sample[:n].mean(0) for n in st["n_list"]}
                    bar.update(len(x) * s_total)
                else:
                    attacked = {n: _heatmaps(net, first_samples(samples, n), st["x_adv"][n].to(device), L, rule,
                                             lrp_compat, lrp_method, input_noise, progress=bar) for n in st["n_list"]}
                for n in st["n_list"]:
                    for is_adv, heat in ((False, clean[n]), (True, attacked[n])):
                        save_artifact(st["path"](L, is_adv, n), {"heatmaps": heat},
                                      {**st["meta"], "layer_idx": L, "n_samples": n})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"saved {rule} heatmaps for layers {layers} under {where} (peak memory {peak:.1f} GiB)")
    return where
