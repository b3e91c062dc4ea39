"""Deterministic ResNet-20 on CIFAR-10: --mode train (SGD, step schedule, validation split) or --mode test (accuracy, attack, LRP).
(the reference's command; an alias of train_networks.py / attack_networks.py / compute_lrp.py on the ResNet-20
entry, --model baseNN --model_idx 6)

    python src/full_test_cifar_resnet.py --mode train --profile cpu
    python src/full_test_cifar_resnet.py --mode test --attack_method fgsm --test_inputs 500
"""
from utils import cli
from utils.pipeline import aliases


def main(argv=None):
    aliases.main("baseNN", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    cli.run_main(main)
