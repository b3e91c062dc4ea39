# Training: baseNN, advNN (adversarial training) and fullBNN (SVI or HMC) of every settings entry, by the
# recipe of its entry under the profile's overrides (train_networks.py). A net that starts from the trained
# baseNN (init_from_det in the entry or the profile) depends on it.


def train_inputs(w):
    idx = idx_of(w)
    deps = {"data": data_file(dataset_of(idx))}
    if w.model != "baseNN" and starts_from_det(w.model, idx):
        deps["det"] = weights("baseNN", idx)
    return deps


rule train:
    input:
        unpack(train_inputs),
    output:
        str(ROOT / "{model}" / "{net}" / "{weights}.pt"),
    params:
        idx=idx_of,
        settings=resolved_settings,
    threads: config["threads"]
    log:
        log("train_{model}_{net}_{weights}"),
    benchmark:
        bench("train_{model}_{net}_{weights}")
    resources:
        **resources_of("train"),
    shell:
        script("train_networks.py") + " --model {wildcards.model} --model_idx {params.idx} " + COMMON
        + " --quiet 2>&1 | tee {log}"
