"""Data: provisioning, verified loading, the fixed test subset."""
