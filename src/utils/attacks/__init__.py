"""Attacks: FGSM and PGD over stacked posterior samples."""
