"""Figures: artifacts to tables, the controls study, one plotting style, the figure scripts' shared flags."""
