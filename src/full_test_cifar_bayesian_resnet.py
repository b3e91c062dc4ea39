"""Bayesian ResNet-20 on CIFAR-10 (Pyro mean-field VI over every conv and linear weight): --mode train or --mode test.

    python src/full_test_cifar_bayesian_resnet.py --mode train --profile cpu
    python src/full_test_cifar_bayesian_resnet.py --mode test --attack_method fgsm --n_samples 100
"""
from utils import cli, cifar_cli


def main():
    cifar_cli.main("bayes", __doc__.splitlines()[0])


if __name__ == "__main__":
    cli.run_main(main)
