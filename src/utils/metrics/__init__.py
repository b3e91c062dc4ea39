"""Metrics: robustness of explanations and the statistics of the figures."""
