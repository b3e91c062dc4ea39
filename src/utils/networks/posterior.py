"""Stacked posterior samples {param_name: (S, ...)}: how many, the first n, and chunks of them."""


def n_stored(samples):
    """The number of stacked samples S."""
    return next(iter(samples.values())).shape[0]


def first_samples(samples, n):
    """The first n samples (all of them when n is None: a deterministic net's single sample)."""
    return samples if n is None else {k: v[:n] for k, v in samples.items()}


def sample_chunks(samples, size):
    """(start index, chunk of at most `size` samples), in order."""
    for start in range(0, n_stored(samples), size):
        yield start, {k: v[start:start + size] for k, v in samples.items()}
