# LRP: heatmaps of the clean and the attacked test subset at every learnable layer, one rule per job
# (compute_lrp.py); a fullBNN's maps are the average over its samples, for n = 10, 50, 100.


rule lrp:
    input:
        weights=lambda w: weights(w.model, idx_of(w)),
        attacks=lambda w: attacks_dir(w.model, idx_of(w), w.atk),
    output:
        directory(str(ROOT / "{model}" / "{net}" / "{atk}" / "{lrpdir}")),
    params:
        idx=idx_of,
        rule=lambda w: re.search(r"(epsilon|gamma|alpha1beta0)_lrp$", w.lrpdir).group(1),
        flags=lambda w: stage_flags(w.model, idx_of(w)),
    threads: config["threads"]
    log:
        log("lrp_{model}_{net}_{atk}_{lrpdir}"),
    benchmark:
        bench("lrp_{model}_{net}_{atk}_{lrpdir}")
    resources:
        **resources_of("lrp"),
    shell:
        script("compute_lrp.py") + " --model {wildcards.model} --model_idx {params.idx} --attack_method "
        "{wildcards.atk} --rule {params.rule}{params.flags} " + COMMON + " --quiet 2>&1 | tee {log}"
