"""LRP: canonizers (networks as the graph the engine walks), rules, handlers and the one engine."""

# The package's vocabulary, importable without torch (the workflow reads it when it parses)
RULES = ("epsilon", "gamma", "alpha1beta0")
COMPAT = ("default", "reference")
LRP_METHODS = ("avg_heatmap", "avg_prediction")
