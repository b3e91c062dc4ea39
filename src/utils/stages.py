"""The attack and LRP stages over a model held as stacked samples, shared by `attack_networks.py`,
`compute_lrp.py` and the CIFAR-10 scripts' `--mode test` (one pipeline for every network)."""
import resource

from tqdm import tqdm

from .artifacts import load_artifact, matches, save_artifact
from .attacks import attack, evaluate_attack, prefix_means
from .lrp import lrp_chunked, per_sample_heatmaps
from .posterior import first_samples, n_stored


def run_attacks(net, samples, x, y, method, eps, paths, meta, definition="mean_of_attacks", seed=0, pgd_steps=40,
                pgd_step_size=0.01, device="cpu", load=False, skip_current=False, hint="", title="", quiet=False,
                grid=True):
    """Attack the model, evaluate and save one artifact per sample count n (`paths`: {n: path}, n None for a
    deterministic net). With the per-sample `mean_of_attacks`, smaller n are prefix means of one run.
    Returns {n: x_adv}."""
    from .plots import attack_grid
    if skip_current and all(matches(p, {**meta, "n_samples": n}) for n, p in paths.items()):
        print(f"attacks up to date: {', '.join(str(p) for p in paths.values())}")
        return {n: load_artifact(p, what="attack")[0]["x_adv"] for n, p in paths.items()}
    bayes = next(iter(paths)) is not None
    if load:
        adv = {n: load_artifact(p, {**meta, "n_samples": n}, what="attack", hint=hint)[0]["x_adv"] for n, p in paths.items()}
    else:
        with tqdm(total=len(x) * n_stored(samples), desc=f"{method} on {title}", unit="img", disable=quiet) as bar:
            out = attack(net, samples, x.to(device), y.to(device), method, eps, definition, seed, pgd_steps,
                         pgd_step_size, progress=bar)
        if definition != "mean_of_attacks":
            adv = {next(iter(paths)): out}
        else:  # per-sample adversarial images (S, N, ...)
            adv = prefix_means(out, list(paths)) if bayes else {None: out[0]}
    for n, x_adv in adv.items():
        metrics, tensors = evaluate_attack(net, first_samples(samples, n), x, x_adv, y, device)
        label = f"n_samples={n} " if n else ""
        print(f"{label}test accuracy = {100 * metrics['clean_accuracy']:.2f}%\tadversarial accuracy = "
              f"{100 * metrics['adversarial_accuracy']:.2f}%\tsuccess rate = {100 * metrics['attack_success_rate']:.2f}%")
        print(f"{label}avg softmax robustness = {metrics['softmax_robustness_mean']:.4f} (min = "
              f"{metrics['softmax_robustness_min']:.4f} max = {metrics['softmax_robustness_max']:.4f})")
        if not load:
            save_artifact(paths[n], {"x_adv": x_adv, **tensors}, {**meta, "n_samples": n, "metrics": metrics})
            if grid:
                attack_grid(x, x_adv, paths[n].with_suffix(".png"), title=f"{title}, {method} eps={eps}"
                            + (f", n={n}" if n else ""))
            print(f"saved {paths[n]}")
    return adv


def run_lrp(net, samples, x, x_adv, rule, path, meta, n_list, lrp_method="avg_heatmap", lrp_compat="default",
            device="cpu", skip_current=False, title="", quiet=False):
    """Heatmaps of the clean images and of each n's attack at every learnable layer, one artifact each.

    `path(layer, attacked, n)` names the files; `x_adv` is {n: attacked images}. For a Bayesian net
    (n not None) with avg_heatmap, the clean maps of every n are prefix means of one set of per-sample maps.
    Returns the directory of the first layer's files."""
    layers = net.learnable_layers
    where = path(layers[0], False, n_list[0]).parents[1]
    if skip_current and all(matches(path(L, a, n), {**meta, "layer_idx": L, "n_samples": n})
                            for L in layers for a in (False, True) for n in n_list):
        print(f"heatmaps up to date under {where}")
        return where
    bayes = n_list[0] is not None
    s_total = n_stored(samples)
    x = x.to(device)
    per_layer = len(x) * (s_total + sum(n or 1 for n in n_list))
    with tqdm(total=per_layer * len(layers), desc=f"LRP {rule} {title}", unit="map", disable=quiet) as bar:
        for L in layers:
            if bayes and lrp_method == "avg_heatmap":
                per_sample = per_sample_heatmaps(net, samples, x, L, rule, lrp_compat)
                clean = {n: per_sample[:n].mean(0) for n in n_list}
            else:
                clean = {n: lrp_chunked(net, first_samples(samples, n), x, L, rule, lrp_compat, lrp_method)
                         for n in n_list}
            bar.update(len(x) * s_total)
            for n in n_list:
                attacked = lrp_chunked(net, first_samples(samples, n), x_adv[n].to(device), L, rule, lrp_compat,
                                       lrp_method, progress=bar)
                for is_adv, heat in ((False, clean[n]), (True, attacked)):
                    save_artifact(path(L, is_adv, n), {"heatmaps": heat}, {**meta, "layer_idx": L, "n_samples": n})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"saved {rule} heatmaps for layers {layers} under {where} (peak memory {peak:.1f} GiB)")
    return where
