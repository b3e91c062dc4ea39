"""Adversarially trained ResNet-20 on CIFAR-10 (batched FGSM eps 0.2 batches): --mode train or --mode test.
(the reference's command; an alias of train_networks.py / attack_networks.py / compute_lrp.py on the ResNet-20
entry, --model advNN --model_idx 6)

    python src/full_test_cifar_adversarial_resnet.py --mode train --profile cpu   # starts from the det net
    python src/full_test_cifar_adversarial_resnet.py --mode test --attack_method fgsm
"""
from utils import cli
from utils.pipeline import aliases


def main(argv=None):
    aliases.main("advNN", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    cli.run_main(main)
