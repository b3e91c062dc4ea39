"""Appendix: LRP robustness differences (Adv - Det, Bay - Det) for the three rules on CIFAR-10, the ResNet-20s,
output layer (the reference's "layer idx 38"): lrp_rules_robustness.py on the ResNet-20 entry.

    python src/lrp_rules_robustness_cifar.py --attack_method fgsm --n_samples 100 --topk 20
"""
import lrp_rules_robustness
from utils import cli
from utils.model_settings import CIFAR_ROW_IDX


def main(argv=None):
    lrp_rules_robustness.main(argv, __doc__.splitlines()[0], model_idx=CIFAR_ROW_IDX)


if __name__ == "__main__":
    cli.run_main(main)
