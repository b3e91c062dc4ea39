"""The fullBNN branch of train_networks.py: flags, training by SVI or HMC, the posterior store."""
import time

from ..artifacts import matches, save_artifact, save_json
from ..training.bayesian import SVI_BATCH, BayesianNet, HMCSpec, bayes_accuracy, predictive_probs, sample_mean_field, train_hmc, train_svi
from ..data.datasets import SUBSET_SEED, load_dataset, seeded_subset
from ..model_settings import overrides
from ..networks.store import fingerprint, load_deterministic, load_posterior, net_dir
from ..networks.architectures import build_seeded, count_parameters
from ..networks.posterior import n_stored
from ..paths import STANDARD_N_SAMPLES, data_root, weights_file
from ..training.recipes import train_network


def add_bayesian_flags(p):
    from ..cli import nonneg_int, positive_float, positive_int
    g = p.add_argument_group("fullBNN")
    g.add_argument("--n_store", type=positive_int, default=100, help="posterior samples to store (SVI draws; HMC: the settings' hmc_samples)")
    g.add_argument("--svi_init_scale", "--init_scale", type=positive_float, default=0.02, help="initial std of the mean-field guide")
    g.add_argument("--hmc_kernel", default=None, choices=("nuts", "hmc"), help="NUTS (default) or fixed-length HMC")
    g.add_argument("--hmc_step_size", type=positive_float, default=None, help="initial step size (adapted during warm-up)")
    g.add_argument("--hmc_num_steps", type=positive_int, default=10, help="leapfrog steps per iteration of fixed-length HMC")
    g.add_argument("--hmc_batch_size", type=positive_int, default=4000, help="batch size of the minibatch scheme")
    g.add_argument("--hmc_scale_likelihood", default=None, choices=("subset", "full"),
                   help="with --n_train: the exact posterior given the subset, or its likelihood scaled by "
                        "N_train_total / n_train to approximate the full-data posterior (CPU profile)")
    g.add_argument("--warmup", type=nonneg_int, default=None, help="override the settings' warm-up steps")
    g.add_argument("--n_eval", type=positive_int, default=None, help="evaluate on a seeded subset of this many test images")
    g.add_argument("--num_mc", type=positive_int, default=None,
                   help="sgd recipe (the Bayesian ResNet-20): weight draws per batch in the ELBO (5)")


def bnn_config(args, cfg):
    """The training configuration of a fullBNN: settings, profile and flag overrides."""
    s = cfg["settings"]
    over = overrides(args.profile, "fullBNN", args.model_idx, s["inference"], args.debug)
    pick = lambda key, default: getattr(args, key, None) if getattr(args, key, None) is not None else over.get(key, default)  # noqa: E731
    cfg = {**cfg, "inference": s["inference"], "n_eval": pick("n_eval", None)}
    if s["inference"] == "svi":
        cfg.update({"n_store": args.n_store, "svi_init_scale": args.svi_init_scale})
    else:
        kernel = pick("hmc_kernel", "nuts")
        cfg.update({"epochs": None, "n_store": s["hmc_samples"], "warmup": pick("warmup", s["warmup"]),
                    "hmc_scheme": args.hmc_scheme, "hmc_kernel": kernel, "hmc_init": args.hmc_init,
                    # the MAP start sees all training images (debug runs: the subset, for speed)
                    "hmc_init_images": None if args.hmc_init != "map" else "subset" if args.debug else "all",
                    "hmc_scale_likelihood": pick("hmc_scale_likelihood", "subset"),
                    "hmc_step_size": pick("hmc_step_size", 1.0 if kernel == "nuts" else 1e-3),
                    "hmc_num_steps": args.hmc_num_steps if kernel == "hmc" else None,
                    "hmc_batch_size": args.hmc_batch_size if args.hmc_scheme == "minibatch" else None})
    return cfg


def train_or_load_bnn(args, cfg, root, x_test, y_test, device):
    cfg = bnn_config(args, cfg)
    s = cfg["settings"]
    var = cfg.get("variant", {})
    mdir = net_dir(root, "fullBNN", args.model_idx, var=var)
    path = weights_file(mdir, "fullBNN")
    template = build_seeded(s, args.seed)
    if cfg.get("init_from_det") and not args.load:  # its start is part of what identifies it
        det, det_meta = load_deterministic(root, "baseNN", args.model_idx, args.profile, args.debug)
        template.load_state_dict(det.state_dict())
        cfg["init_fingerprint"] = fingerprint(det_meta)
    if args.skip_current and not args.load and matches(path, cfg):
        return print(f"fullBNN idx {args.model_idx}: up to date ({path})")
    if args.load:
        samples, meta = load_posterior(root, args.model_idx, args.profile, args.debug, var=var)
    else:
        x, y = x_all, y_all = load_dataset(s["dataset"], data_root(args.data_dir), train=True)
        n_total = len(x)
        if cfg["n_train"] is not None and s.get("recipe") != "sgd":  # sgd: after its validation split
            x, y = seeded_subset(x, y, cfg["n_train"], args.seed)
        if s.get("recipe") != "sgd":
            print(f"fullBNN idx {args.model_idx}: {s['architecture']} on {s['dataset']} by {s['inference'].upper()}, "
                  f"{count_parameters(template):,} weights, {len(x)} training images")
        start = time.time()
        if s.get("recipe") == "sgd":
            samples, extra = _train_bayes_sgd(args, cfg, template, x_all, y_all, mdir, device)
            x = extra.pop("_train_images")
        elif s["inference"] == "svi":
            bnn = BayesianNet(template)
            guide, history = train_svi(bnn, x, y, cfg["epochs"], s["lr"], init_scale=cfg["svi_init_scale"],
                                       seed=args.seed, device=device, quiet=args.quiet,
                                       kl_weight=var.get("kl_weight", 1.0), elbo=var.get("svi_elbo", "full"),
                                       init=var.get("svi_init", "ours"))
            samples = sample_mean_field(guide, cfg["n_store"], args.seed)
            save_artifact(mdir / "guide.pt", {f"{k}.{part}": t for k, (loc, scale) in guide.items()
                                              for part, t in (("loc", loc), ("scale", scale))}, cfg)
            from ..figures.plots import svi_training_curve
            svi_training_curve(history, mdir / "training.png")
            extra = {"history": history, "kl_weight_effective": len(x) / SVI_BATCH if var.get("svi_elbo") == "reference"
                     else var.get("kl_weight", 1.0)}
        else:
            bnn = BayesianNet(template)
            init = None
            if cfg["hmc_init"] == "map":
                xm, ym = (x_all, y_all) if cfg["hmc_init_images"] == "all" else (x, y)
                print(f"MAP fit for the chain's starting point (Adam, 5 epochs, {len(xm)} images)")
                train_network(template, xm, ym, epochs=5, lr=1e-3, seed=args.seed, device=device, quiet=args.quiet,
                              log=lambda _: None)
                init = {k: v.detach() for k, v in template.state_dict().items()}
            spec = HMCSpec(cfg["n_store"], cfg["warmup"], cfg["hmc_scheme"], cfg["hmc_kernel"],
                           cfg["hmc_batch_size"] or 4000, cfg["hmc_step_size"], cfg["hmc_num_steps"] or 10, args.seed)
            samples, diag = train_hmc(bnn, x, y, spec, init_params=init, device=device, quiet=args.quiet,
                                      n_data=n_total if cfg["hmc_scale_likelihood"] == "full" else None)
            print(f"HMC ({diag['kernel']}, {diag['scheme']}): acceptance {diag['acceptance_rate']:.3f}, step size "
                  f"{diag['step_size']:.2e}, divergences {diag['divergences']}, leapfrog steps/iteration "
                  f"{diag['mean_leapfrog_steps']:.1f}" + (f", tree depth {diag['mean_tree_depth']:.2f}" if "mean_tree_depth" in diag else "")
                  + f", {diag['seconds_per_sample']:.2f} s/iteration")
            extra = {"diagnostics": diag}
        seconds = time.time() - start
        print(f"Execution time = {time.strftime('%H:%M:%S', time.gmtime(seconds))}")
        meta = {**cfg, **extra, "train_seconds": seconds, "n_train_used": len(x)}
    if cfg["n_eval"] is not None:
        x_test, y_test = seeded_subset(x_test, y_test, cfg["n_eval"], SUBSET_SEED)  # one subset whatever --seed
    probs = predictive_probs(template, samples, x_test, device=device)
    n_list = [n for n in STANDARD_N_SAMPLES if n <= n_stored(samples)] or [n_stored(samples)]
    accs = bayes_accuracy(probs, y_test, n_list)
    for n, acc in accs.items():
        print(f"Accuracy with {n} samples ({len(y_test)} test images): {100 * acc:.2f}%")
    if not args.load:
        meta["test_accuracy"] = {str(n): a for n, a in accs.items()}
        save_artifact(path, samples, meta)
        save_json(mdir / "metrics.json", {k: meta[k] for k in ("test_accuracy", "train_seconds", "history", "diagnostics")
                                          if k in meta})
        print(f"saved {path} ({n_stored(samples)} samples)")


def _train_bayes_sgd(args, cfg, template, x, y, mdir, device):
    """The Bayesian sgd recipe (the Bayesian ResNet-20): mean-field SVI with a validation split, its guide
    starting at `template`'s weights (the trained baseNN's with --init_from_det); the guide is saved beside the
    samples. Returns (samples, metadata extras)."""
    from ..training.recipes import bayesian_posterior, sgd_split, train_bayesian_sgd
    r = cfg["recipe"]
    train, val = sgd_split(x, y, r["n_val"], cfg["n_train"], args.seed)
    print(f"fullBNN idx {args.model_idx}: {cfg['settings']['architecture']} on {cfg['settings']['dataset']} by SVI "
          f"(sgd recipe), {count_parameters(template):,} weights, {len(train[0])} training, {len(val[0])} validation "
          f"images, {cfg['epochs']} epochs" + (", starting from the trained baseNN" if cfg["init_from_det"] else ""))
    (guide, point), history, best = train_bayesian_sgd(
        template, train, val, cfg["epochs"], r["lr"], r["batch_size"], r["num_mc"], cfg["svi_init_scale"],
        seed=args.seed, device=device, quiet=args.quiet)
    print(f"best validation accuracy {100 * best:.2f}%")
    save_artifact(mdir / "guide.pt", {f"{k}.{part}": t for k, (loc, scale) in guide.items()
                                      for part, t in (("loc", loc), ("scale", scale))}, cfg)
    samples = bayesian_posterior(guide, point, cfg["n_store"], args.seed)
    return samples, {"history": history, "val_accuracy": best, "_train_images": train[0]}
