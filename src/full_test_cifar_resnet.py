"""Deterministic ResNet-20 on CIFAR-10: --mode train (SGD, step schedule, validation split) or --mode test (accuracy, attack, LRP).

    python src/full_test_cifar_resnet.py --mode train --profile cpu
    python src/full_test_cifar_resnet.py --mode test --attack_method fgsm --test_inputs 500
"""
from utils import cli, cifar_cli


def main():
    cifar_cli.main("det", __doc__.splitlines()[0])


if __name__ == "__main__":
    cli.run_main(main)
