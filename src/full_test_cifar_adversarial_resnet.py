"""Adversarially trained ResNet-20 on CIFAR-10 (batched FGSM eps 0.2 batches): --mode train or --mode test.

    python src/full_test_cifar_adversarial_resnet.py --mode train --profile cpu   # starts from the det net
    python src/full_test_cifar_adversarial_resnet.py --mode test --attack_method fgsm
"""
from utils import cli, cifar_cli


def main():
    cifar_cli.main("adv", __doc__.splitlines()[0])


if __name__ == "__main__":
    cli.run_main(main)
