"""Print Markdown tables of what the experiments hold: test accuracies, training times and attack results.

    python src/summarize_results.py [--exp_dir experiments]
"""
import contextlib

from utils import cli
from utils.artifacts import load_json
from utils.paths import experiments_root

REDO = "the stage that wrote it (or delete the file)"


def sidecar(path):
    """A sidecar's metadata; a corrupt one is one line naming it."""
    meta = load_json(path, what="sidecar", hint=REDO)
    if not isinstance(meta, dict):
        raise cli.UserError(f"sidecar {path} holds no metadata; {REDO}")
    return meta


@contextlib.contextmanager
def reading(path):
    """A sidecar without the fields a table needs is one line naming it, not a traceback."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise cli.UserError(f"sidecar {path} lacks what the table needs ({err.__class__.__name__}: {err}); "
                            f"re-run: {REDO}") from None


def main():
    p = cli.Parser(description=__doc__.splitlines()[0])
    p.add_argument("--exp_dir", default=None)
    cli.add_bool(p, "--debug")
    args = p.parse_args()
    root = experiments_root(args.exp_dir, args.debug)
    print("| model | idx | dataset | arch | test accuracy | training images | training time |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(root.glob("*/*/weights.json")) + sorted(root.glob("*/*/posterior.json")):
        with reading(path):
            m = sidecar(path)
            acc = m.get("test_accuracy")
            acc = (f"{100 * acc:.2f} %" if isinstance(acc, float) else
                   ", ".join(f"n={n}: {100 * a:.2f} %" for n, a in sorted(acc.items(), key=lambda t: int(t[0]))) if acc else "?")
            name = m["model"] + (f" ({m['inference'].upper()})" if m.get("inference") else "")
            if m.get("val_accuracy") is not None:  # the sgd recipe's model selection
                acc += f" (validation {100 * m['val_accuracy']:.2f} %)"
            print(f"| {name} | {m['model_idx']} | {m['settings']['dataset']} | {m['settings']['architecture']} | {acc} | "
                  f"{m.get('n_train_used', '?')} | {m.get('train_seconds', 0):.0f} s |")
    print("\n| model | idx | attack | n | clean acc. | adv. acc. | success rate | softmax robustness (mean) | "
          "mean L2 | mean Linf |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(root.glob("*/*/*/attacks/*_attack.json")):
        with reading(path):
            m = sidecar(path)
            r = m["metrics"]
            size = (f"{r['perturbation_l2_mean']:.3f} | {r['perturbation_linf_mean']:.3f}" if "perturbation_l2_mean" in r
                    else "? | ?")
            print(f"| {m['model']} ({path.parents[2].name}) | {m.get('model_idx', m.get('architecture'))} | "
                  f"{path.parents[1].name} | {m.get('n_samples') or '-'} | "
                  f"{100 * r['clean_accuracy']:.1f} % | {100 * r['adversarial_accuracy']:.1f} % | "
                  f"{100 * r['attack_success_rate']:.1f} % | {r['softmax_robustness_mean']:.3f} | {size} |")


if __name__ == "__main__":
    cli.run_main(main)
