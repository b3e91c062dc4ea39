# The targets: one per exec script. `snakemake -n <target>` shows its plan.
TOPK = config["topk"]


def main_figures():
    """The paper's main figures, as make_main_figures.sh draws them (exec_main.sh)."""
    figs = [FIG / "heatmaps_det_vs_bay_idx2_fgsm.png",                 # Fig. 1
            FIG / "heatmaps_layers_idx0_fgsm.png",                     # Fig. 3
            FIG / "robustness_diff_idx1_fgsm_epsilon.png",             # Fig. 4 left
            FIG / "robustness_diff_idx3_pgd_epsilon.png",              # Fig. 4 right
            FIG / "rules_robustness_main_fgsm_topk=20.png",            # Fig. 5
            FIG / "robustness_scatter_idx0_fgsm_epsilon.png",          # Fig. 6 left
            FIG / "robustness_scatter_idx2_pgd_epsilon.png",           # Fig. 6 right
            FIG / "rules_robustness_idx2_fgsm_topk=20.png",            # appendix
            FIG / "rules_robustness_idx3_fgsm_topk=20.png"]
    if config["cifar"]:
        figs.append(FIG / f"rules_robustness_idx{CIFAR_ROW_IDX}_fgsm_topk={TOPK}.png")  # exec_cifar.sh's plot
    return [str(f) for f in figs]


def layers_figures():
    """exec_layers_robustness.sh: Figs. 4 and 6 of every model idx and attack."""
    return [str(FIG / f"{kind}_idx{idx}_{atk}_{config['rule']}.png") for idx in config["model_idxs"]
            for atk in config["attacks"] for kind in ("robustness_diff", "robustness_scatter")]


def rules_figures():
    """exec_rules_robustness.sh: the rules plot of every model idx, and Fig. 5 when idx 2 and 3 are among them."""
    atk = config["attack"]
    figs = [str(FIG / f"rules_robustness_idx{idx}_{atk}_topk={TOPK}.png") for idx in config["model_idxs"]]
    if {2, 3} <= set(config["model_idxs"]):
        figs.append(str(FIG / f"rules_robustness_main_{atk}_topk={TOPK}.png"))
    return figs


rule main:
    input:
        main_figures(),
    default_target: True


rule layers_robustness:
    input:
        layers_figures(),


rule rules_robustness:
    input:
        rules_figures(),


rule cifar:
    input:
        str(FIG / f"rules_robustness_idx{CIFAR_ROW_IDX}_{config['attack']}_topk={TOPK}.png"),


rule controls:
    input:
        rules.controls_study.output.png,
