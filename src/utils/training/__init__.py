"""Training and inference: the adam and sgd recipes, the Pyro model with SVI and HMC."""
