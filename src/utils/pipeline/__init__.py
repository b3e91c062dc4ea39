"""Stages: what train_networks.py (fullBNN branch), attack_networks.py, compute_lrp.py and the CIFAR-10 aliases run."""
