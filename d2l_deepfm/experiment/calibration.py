"""Calibration of click probabilities: do the predicted rates match the observed ones?

A CTR model's probability is used as a rate (bids, expected clicks), so its calibration
matters as much as its ranking (AUC). For the test set of every run (experiment/run.py):

  * a reliability diagram (OUT/calibration.png): the rows are put in `BINS` equal-width bins of
    the predicted probability; per bin, the mean prediction against the observed click rate
    (on the diagonal when calibrated), with the number of rows per bin below;
  * the expected calibration error, ECE = sum_b (n_b / n) |mean p_b - click rate_b| over the
    same bins, and the ratio mean predicted / observed CTR (1 when unbiased on average).
The chapter's double sigmoid (--loss chapter) trains sigmoid(p) towards the labels, where p,
the model's output, is already a probability: sigmoid(p) >= 0.5, so wherever the click rate
is below 0.5 the loss pushes p towards 0. The ranking (AUC) can survive; the rates do not,
and this is what shows it.
"""
import numpy as onp

from ..files import atomic_write

from .report import LABELS, plt     # matplotlib with the Agg backend, as every figure of a run

BINS = 10


def summarize(labels, p, bins=BINS):
    """{'ece', 'mean_predicted', 'observed_ctr', 'ratio', 'bins': per-bin lists} (JSON-ready)."""
    labels, p = onp.asarray(labels, dtype=onp.float64), onp.asarray(p, dtype=onp.float64)
    which = onp.clip((p * bins).astype(onp.int64), 0, bins - 1)        # p = 1 in the last bin
    count = onp.bincount(which, minlength=bins)
    safe = onp.maximum(count, 1)
    mean_p = onp.bincount(which, weights=p, minlength=bins) / safe
    rate = onp.bincount(which, weights=labels, minlength=bins) / safe
    n = max(len(p), 1)
    observed = float(labels.mean()) if len(labels) else float('nan')
    predicted = float(p.mean()) if len(p) else float('nan')
    return {'ece': float(onp.sum(count / n * onp.abs(mean_p - rate))),
            'mean_predicted': predicted, 'observed_ctr': observed,
            'ratio': predicted / observed if observed > 0 else float('nan'),
            'bins': {'count': count.tolist(),
                     'mean_predicted': [float(x) if c else None for x, c in zip(mean_p, count)],
                     'observed': [float(x) if c else None for x, c in zip(rate, count)]}}


def plot(calibrations, title=None, labels=LABELS, axes=None):
    """calibrations: {model name: summarize(...)}. Returns a matplotlib figure: the reliability
    diagram above, the rows per bin (log scale) below (or draws on axes=(top, bottom))."""
    labels = labels or {}
    if axes is None:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5.6), sharex=True,
                                          gridspec_kw={'height_ratios': [3, 1]})
    else:
        (top, bottom), fig = axes, axes[0].figure
    top.plot([0, 1], [0, 1], color='gray', linestyle='--', linewidth=1, label='calibrated')
    names = list(calibrations)
    width = 1 / BINS / (len(names) + 1)
    for k, name in enumerate(names):
        c = calibrations[name]
        b = c['bins']
        kept = [i for i, n in enumerate(b['count']) if n]
        line, = top.plot([b['mean_predicted'][i] for i in kept], [b['observed'][i] for i in kept],
                         marker='o', label=f"{labels.get(name, name)}: ECE {c['ece']:.3f}, "
                                           f"mean p / CTR {c['ratio']:.2f}")
        left = onp.arange(len(b['count'])) / len(b['count']) + (k + 0.5) * width
        bottom.bar(left, b['count'], width=width, align='edge', color=line.get_color())
    top.set_ylabel('observed click rate')
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=8, loc='upper left')
    bottom.set_yscale('log')
    bottom.set_xlabel('predicted click probability')
    bottom.set_ylabel('test rows')
    bottom.grid(True, alpha=0.3)
    if title:
        top.set_title(title, fontsize=10)
    if axes is None:
        fig.tight_layout()
    return fig


LOSS_WORDS = {'fixed': 'trained on logloss', 'chapter': "trained with the chapter's double sigmoid"}


def title(source, loss):
    """The figure's title, in a reader's words (no option names)."""
    return (f'Do predicted click rates match observed ones?\nTest set, {source} data, '
            f'{LOSS_WORDS.get(loss, loss)}')          # two lines: it fits the figure's width


def write_figure(path, results, source, loss, log=print):
    """The run's calibration.png at `path` ({name: result with 'calibration'}); logs the figures."""
    fig = plot({n: r['calibration'] for n, r in results.items()}, title=title(source, loss))
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    plt.close(fig)
    log('calibration (test): ' + ', '.join(
        f"{LABELS.get(n, n)} ECE {r['calibration']['ece']:.4f}, mean p / CTR {r['calibration']['ratio']:.3f}"
        for n, r in results.items()))
