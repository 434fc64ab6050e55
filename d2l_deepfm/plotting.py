"""FM-vs-DeepFM convergence curves, d2l style: one figure, one panel per metric."""
import matplotlib

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # noqa: E402

PANELS = [('train_loss', 'train loss'), ('test_logloss', 'test logloss'), ('test_auc', 'test AUC')]
LABELS = {'fm': 'FM', 'deepfm': 'DeepFM', 'lr': 'LR'}


def plot_convergence(histories, path=None, title=None, best=None):
    """histories: {model name: list of per-epoch records}. Saves to `path` if given; returns the figure.

    best: {model name: epoch} marks each model's best validation epoch with a dotted line."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for ax, (key, label) in zip(axes, PANELS):
        for name, history in histories.items():
            epochs = [r['epoch'] for r in history]
            line, = ax.plot(epochs, [r[key] for r in history], marker='.', label=LABELS.get(name, name))
            if best and best.get(name) is not None:
                ax.axvline(best[name], color=line.get_color(), linestyle=':', alpha=0.8)
        ax.set_xlabel('epoch')
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
