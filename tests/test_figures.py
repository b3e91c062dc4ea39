"""Every figure script end to end on the tiny real pipeline: a PNG, and a CSV that matches the artifacts."""
import pandas as pd
import pytest

from conftest import assert_clean_error, run_script, saved_png
from utils.metrics.robustness import lrp_robustness
from utils.figures.results import load_attack, load_heatmaps


def run_figure(exp, script, *args):
    proc = run_script(script, *args, "--debug", "--quiet", "--exp_dir", exp)
    assert proc.returncode == 0, proc.stderr
    return saved_png(proc), proc


def recomputed(exp, model, layer, n=None, rule="epsilon", topk=20):
    h, h_adv, _ = load_heatmaps(exp / "debug", model, 2, "fgsm", rule, layer, n)
    return lrp_robustness(h, h_adv, topk)


def test_robustness_diff_figure(tiny_pipeline):
    png, proc = run_figure(tiny_pipeline, "lrp_robustness_diff.py", "--model_idx", 2)
    summary = pd.read_csv(png.with_suffix(".csv"))
    row = summary[(summary.layer_idx == 3) & (summary.comparison == "Bay - Det") & (summary.n_samples == 50)].iloc[0]
    diff = recomputed(tiny_pipeline, "fullBNN", 3, 50) - recomputed(tiny_pipeline, "baseNN", 3)
    assert row["50%"] == pytest.approx(diff.median().item(), abs=1e-6) or row["50%"] == pytest.approx(
        float(pd.Series(diff.numpy()).median()), abs=1e-6)
    assert row["mean"] == pytest.approx(diff.mean().item(), abs=1e-5)
    stats = pd.read_csv(png.with_name(png.stem + "_stats.csv"))
    assert set(stats.layer_idx) == {1, 3, 5} and "bay_minus_det_wilcoxon_p" in stats


def test_scatterplot_figure(tiny_pipeline):
    png, _ = run_figure(tiny_pipeline, "lrp_robustness_scatterplot.py", "--model_idx", 2)
    corr = pd.read_csv(png.with_suffix(".csv"))
    from scipy import stats
    atk, _ = load_attack(tiny_pipeline / "debug", "advNN", 2, "fgsm")
    rho = stats.spearmanr(recomputed(tiny_pipeline, "advNN", 1), atk["softmax_robustness"]).statistic
    got = corr[(corr.layer_idx == 1) & (corr.model == "Adv")].spearman_rho.iloc[0]
    assert got == pytest.approx(rho, abs=1e-6) or (pd.isna(got) and pd.isna(rho))
    assert set(corr.layer_idx) == {1, 3, 5}  # rho per layer, not only the first


def test_rules_figures(tiny_pipeline):
    png, _ = run_figure(tiny_pipeline, "lrp_rules_robustness.py", "--model_idx", 2)
    stats = pd.read_csv(png.with_suffix(".csv"))
    assert set(stats.rule) == {"epsilon", "gamma", "alpha1beta0"} and set(stats.layer_idx) == {1, 3, 5}
    row = stats[(stats.rule == "gamma") & (stats.layer_idx == 5)].iloc[0]
    diff = recomputed(tiny_pipeline, "fullBNN", 5, 100, "gamma") - recomputed(tiny_pipeline, "baseNN", 5, rule="gamma")
    assert row.bay_minus_det_median == pytest.approx(float(pd.Series(diff.numpy()).median()), abs=1e-6)
    again, _ = run_figure(tiny_pipeline, "lrp_rules_robustness.py", "--model_idx", 2, "--load")
    assert again == png
    png, proc = run_figure(tiny_pipeline, "lrp_rules_robustness_main.py", "--model_idxs", 2, "--cifar", "false")
    assert "CIFAR-10 row not drawn" in proc.stdout
    main = pd.read_csv(png.with_suffix(".csv"))
    assert set(main.layer_idx) == {5} and set(main.dataset) == {"MNIST"}


def test_heatmap_figures(tiny_pipeline):
    png, proc = run_figure(tiny_pipeline, "lrp_heatmaps_det_vs_bay.py", "--model_idx", 2)
    table = pd.read_csv(png.with_suffix(".csv"))
    i = int(table.image.iloc[0])
    assert table.lrp_robustness.iloc[0] == pytest.approx(recomputed(tiny_pipeline, "baseNN", 5, topk=30)[i].item())
    assert (table.linf_attack <= 0.2 + 1e-6).all()
    png, proc = run_figure(tiny_pipeline, "lrp_heatmaps_layers.py", "--model_idx", 2)
    table = pd.read_csv(png.with_suffix(".csv"))
    assert list(table.layer_idx) == [1, 3, 5] and table.prediction.iloc[0] != table.prediction_attack.iloc[0]


def test_missing_artifacts_name_the_command(tiny_pipeline):
    proc = run_script("lrp_robustness_diff.py", "--model_idx", 2, "--attack_method", "pgd", "--debug",
                      "--exp_dir", tiny_pipeline)
    assert_clean_error(proc, "python src/attack_networks.py")
    proc = run_script("lrp_rules_robustness_main.py", "--debug", "--exp_dir", tiny_pipeline)
    assert_clean_error(proc, "--model_idx 3")
