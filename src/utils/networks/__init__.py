"""Networks: the architecture table, the ResNet-20, stacked posterior samples, saving and loading trained nets."""
