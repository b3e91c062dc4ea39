"""LRP: canonizers (networks as the graph the engine walks), rules, handlers and the one engine."""
