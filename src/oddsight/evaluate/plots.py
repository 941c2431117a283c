"""ROC and PR curves of an evaluation, and a score plot per video with the ground truth shaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oddsight.atomic import atomic_file, ensure_dir
from oddsight.evaluate import metrics
from oddsight.evaluate.runner import EvalReport


def write_eval_plots(report: EvalReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oddsight.report.plot import plot_scores

    ensure_dir(out)
    y = np.concatenate([v.labels for v in report.videos])
    s = np.concatenate([v.scores for v in report.videos])
    written = []
    if 0 < y.sum() < len(y):
        fpr, tpr = metrics.roc_curve(y, s)
        precision, recall = metrics.precision_recall(y, s)
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
        a.plot(fpr, tpr, label=f"AUC {report.summary['auc']:.4f}")
        a.plot([0, 1], [0, 1], ":", color="0.6")
        a.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (all frames)")
        b.plot(np.r_[0, recall], np.r_[1, precision], label=f"AP {report.summary['ap']:.4f}")
        b.set(xlabel="recall", ylabel="precision", title="precision-recall")
        for ax in (a, b):
            ax.legend(loc="lower right", fontsize=8)
        fig.suptitle(f"{report.dataset}: {report.method} ({report.model})", fontsize=10)
        fig.tight_layout()
        with atomic_file(out / "roc_pr.png") as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(out / "roc_pr.png")
    for v in report.videos:
        kind = " (anomalous throughout)" if v.labels.all() else " (normal)"
        title = f"{v.name} — {report.method}" + (f", AUC {v.auc:.3f}" if v.auc is not None else kind)
        written.append(plot_scores(v.result, out / f"{v.name}.png", truth=metrics.spans_of(v.labels), title=title))
    return written
