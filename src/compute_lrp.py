"""LRP heatmaps at every learnable layer, for the clean test subset and for the model's own attacks.

    python src/compute_lrp.py --model baseNN --model_idx 2 --attack_method fgsm --rule epsilon
    python src/compute_lrp.py --model fullBNN --model_idx 2 --rule gamma --n_samples 100
    python src/compute_lrp.py --model noisegrad --model_idx 2 --attack_source det   # on the baseNN's images

For a model of several samples one run writes n = 10, 50, 100 (up to --n_samples): the clean maps are
prefix means of the per-sample maps; the attacked maps of n are computed on the n-sample attack with
samples 0..n-1 (on shared images, `--attack_source det` or `random`, prefix means too). SmoothGrad
averages the baseNN's maps over 100 noisy copies of each image.
"""
from utils import cli
from utils.networks.store import stage_inputs
from utils.pipeline.stages import LRPSpec, RunOptions, lrp_set, run_lrp_sets, smoothgrad_noise


def parse_args(argv=None):
    p = cli.stage_parser(__doc__.splitlines()[0])
    cli.add_flag(p, "--attack_method", help="which saved attacks to explain")
    for name in ("--rule", "--lrp_method", "--lrp_compat"):
        cli.add_flag(p, name)
    p.add_argument("--layers", type=cli.nonneg_int, nargs="+", default=None, help="learnable layers to explain (default: all)")
    return p.parse_args(argv)


def check_layers(layers, net):
    bad = sorted(set(layers or []) - set(net.learnable_layers))
    if bad:
        raise cli.UserError(f"--layers {bad} are not learnable layers of this net (learnable: {net.learnable_layers})")


def main(argv=None):
    args = parse_args(argv)
    st = stage_inputs(args)
    check_layers(args.layers, st.net)
    spec = LRPSpec(args.rule, args.lrp_method, args.lrp_compat, args.layers, smoothgrad_noise(st))
    one = lrp_set(st, args.attack_method, st.source, args.bayes_attack, spec, args.profile, args.debug)
    run_lrp_sets(st.net, st.samples, st.x, [one], spec, RunOptions(device=st.device, skip_current=args.skip_current,
                                                                   title=f"{args.model} idx {args.model_idx}",
                                                                   quiet=args.quiet))


if __name__ == "__main__":
    cli.run_main(main)
