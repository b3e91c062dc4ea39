"""Bayesian layer-wise relevance: networks, Bayesian inference, attacks, LRP, metrics and plots."""
