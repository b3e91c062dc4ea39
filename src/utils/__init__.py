"""Bayesian layer-wise relevance. The folders follow the data flow: settings (`model_settings`, `variants`) ->
`data` -> `networks` -> `training` (recipes and Bayesian inference) -> `attacks` -> `lrp` -> `metrics` ->
`figures`; `pipeline` runs the stages; `errors`, `cli`, `paths` and `artifacts` are the plumbing they share."""
