"""Bayesian ResNet-20 on CIFAR-10 (Pyro mean-field VI over every conv and linear weight): --mode train or --mode test.
(the reference's command; an alias of train_networks.py / attack_networks.py / compute_lrp.py on the ResNet-20
entry, --model fullBNN --model_idx 6)

    python src/full_test_cifar_bayesian_resnet.py --mode train --profile cpu
    python src/full_test_cifar_bayesian_resnet.py --mode test --attack_method fgsm --n_samples 100
"""
from utils import cli
from utils.pipeline import aliases


def main(argv=None):
    aliases.main("fullBNN", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    cli.run_main(main)
