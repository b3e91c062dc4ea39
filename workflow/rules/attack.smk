# Attacks: FGSM or PGD on each trained net's test subset (attack_networks.py); a fullBNN's n = 10, 50, 100
# come from one run (prefix means of one set of per-sample attacks).


rule attack:
    input:
        weights=lambda w: weights(w.model, idx_of(w)),
        subset=lambda w: subset(idx_of(w)),
    output:
        directory(str(ROOT / "{model}" / "{net}" / "{atk}" / "attacks")),
    params:
        idx=idx_of,
        flags=lambda w: stage_flags(w.model, idx_of(w)),
    threads: config["threads"]
    log:
        log("attack_{model}_{net}_{atk}"),
    benchmark:
        bench("attack_{model}_{net}_{atk}")
    resources:
        **resources_of("attack"),
    shell:
        script("attack_networks.py") + " --model {wildcards.model} --model_idx {params.idx} --attack_method "
        "{wildcards.atk}{params.flags} " + COMMON + " --quiet 2>&1 | tee {log}"
