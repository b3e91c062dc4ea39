# Figures: each figure script with the flags of make_main_figures.sh and the exec scripts, its figure written
# under a name the workflow gives (--out), its CSVs beside it. Every figure is in the report (snakemake --report).
INPUTS = f" --n_inputs {config['test_inputs']}" if config["test_inputs"] else ""
FIGURE = " " + COMMON + INPUTS + " --out {output.png} 2>&1 | tee {log}"
CAPTIONS = REPO / "workflow" / "report"


def figure_report(path, caption, category, idx=None):
    return report(path, caption=str(CAPTIONS / caption), category=category,
                  labels={"figure": Path(path).stem} if idx is None else {"figure": Path(path).stem, "idx": str(idx)})


rule figure_heatmaps_det_vs_bay:
    input:
        lambda w: stage_outputs(w.idx, w.atk, ["epsilon"]),
    output:
        png=figure_report(str(FIG / "heatmaps_det_vs_bay_idx{idx}_{atk}.png"), "heatmaps_det_vs_bay.rst", "Fig. 1"),
    log:
        log("figure_heatmaps_det_vs_bay_idx{idx}_{atk}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_heatmaps_det_vs_bay.py") + " --model_idx {wildcards.idx} --attack_method {wildcards.atk} --topk 30"
        + FIGURE


rule figure_heatmaps_layers:
    input:
        lambda w: stage_outputs(w.idx, w.atk, ["epsilon"]),
    output:
        png=figure_report(str(FIG / "heatmaps_layers_idx{idx}_{atk}.png"), "heatmaps_layers.rst", "Fig. 3"),
    log:
        log("figure_heatmaps_layers_idx{idx}_{atk}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_heatmaps_layers.py") + " --model_idx {wildcards.idx} --attack_method {wildcards.atk} --topk 30"
        + FIGURE


rule figure_robustness_diff:
    input:
        lambda w: stage_outputs(w.idx, w.atk, [w.rule]),
    output:
        png=figure_report(str(FIG / "robustness_diff_idx{idx}_{atk}_{rule}.png"), "robustness_diff.rst",
                          "Fig. 4 and appendix"),
    log:
        log("figure_robustness_diff_idx{idx}_{atk}_{rule}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_robustness_diff.py") + " --model_idx {wildcards.idx} --attack_method {wildcards.atk} "
        "--rule {wildcards.rule}" + FIGURE


rule figure_robustness_scatter:
    input:
        lambda w: stage_outputs(w.idx, w.atk, [w.rule]),
    output:
        png=figure_report(str(FIG / "robustness_scatter_idx{idx}_{atk}_{rule}.png"), "robustness_scatter.rst",
                          "Fig. 6 and appendix"),
    log:
        log("figure_robustness_scatter_idx{idx}_{atk}_{rule}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_robustness_scatterplot.py") + " --model_idx {wildcards.idx} --attack_method {wildcards.atk} "
        "--rule {wildcards.rule}" + FIGURE


rule figure_rules_robustness:
    input:
        lambda w: stage_outputs(w.idx, w.atk, RULES),
    output:
        png=figure_report(str(FIG / "rules_robustness_idx{idx}_{atk}_topk={topk}.png"), "rules_robustness.rst",
                          "Appendix: rules per model"),
    params:
        samples=lambda w: f" --n_samples {config['atk_samples']}" if int(w.idx) == CIFAR_ROW_IDX else "",
    log:
        log("figure_rules_robustness_idx{idx}_{atk}_topk={topk}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_rules_robustness.py") + " --model_idx {wildcards.idx} --attack_method {wildcards.atk} "
        "--topk {wildcards.topk}{params.samples}" + FIGURE


def rules_main_inputs(w):
    idxs = [2, 3] + ([CIFAR_ROW_IDX] if config["cifar"] else [])
    return [p for idx in idxs for p in stage_outputs(idx, w.atk, RULES)]


rule figure_rules_robustness_main:
    input:
        rules_main_inputs,
    output:
        png=figure_report(str(FIG / "rules_robustness_main_{atk}_topk={topk}.png"), "rules_robustness_main.rst",
                          "Fig. 5"),
    params:
        cifar="true" if config["cifar"] else "false",
    log:
        log("figure_rules_robustness_main_{atk}_topk={topk}"),
    resources:
        **resources_of("figure"),
    shell:
        script("lrp_rules_robustness_main.py") + " --attack_method {wildcards.atk} --topk {wildcards.topk} "
        "--cifar {params.cifar}" + FIGURE


CONTROLS = FIG / "controls" / f"controls_{'debug' if DEBUG else PROFILE}_topk=20"


rule controls_study:
    input:
        [data_file("mnist"), data_file("fashion_mnist")],
    output:
        png=figure_report(f"{CONTROLS}.png", "controls.rst", "Controls study"),
        csv=f"{CONTROLS}.csv",
    params:
        idxs=f" --model_idxs {' '.join(map(str, config['controls_idxs']))}" if config["controls_idxs"] else "",
    threads: config["threads"]
    log:
        log("controls"),
    benchmark:
        bench("controls")
    resources:
        **resources_of("controls"),
    shell:
        script("controls_study.py") + "{params.idxs} --topk 20 --quiet " + COMMON + INPUTS + " 2>&1 | tee {log}"
