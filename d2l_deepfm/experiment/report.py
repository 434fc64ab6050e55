"""What a run shows: the printed tables and the convergence figure (its lines in the runs
root's results table: experiment/results.py).

The figure is d2l-style FM-vs-DeepFM convergence curves, one panel per metric (with a
validation set, its logloss: the curve that picks the epoch, each model's picked epoch marked).
"""
import os

from ..files import atomic_write
from . import stats
from .results import data_name

import matplotlib

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

PANELS = [('train_loss', 'train loss'), ('valid_logloss', 'validation logloss (picks the epoch)'),
          ('test_logloss', 'test logloss'), ('test_auc', 'test AUC')]
LABELS = {'fm': 'FM', 'deepfm': 'DeepFM', 'lr': 'LR'}


def plot_convergence(histories, path=None, title=None, best=None):
    """histories: {model name: list of per-epoch records}. Saves to `path` if given; returns the figure.

    A panel per metric the records have (the validation logloss only with a validation set).
    best: {model name: epoch} marks each model's picked epoch: a dotted line in every panel and
    a circle on the validation curve, both explained by one legend entry."""
    panels = [(k, label) for k, label in PANELS
              if all(k in r for h in histories.values() for r in h)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (key, label) in zip(axes, panels):
        for name, history in histories.items():
            epochs = [r['epoch'] for r in history]
            line, = ax.plot(epochs, [r[key] for r in history], marker='.', label=LABELS.get(name, name))
            if best and best.get(name) is not None:
                ax.axvline(best[name], color=line.get_color(), linestyle=':', alpha=0.8)
                if key == 'valid_logloss':
                    ax.scatter([best[name]], [history[best[name] - 1][key]], s=100,   # a point,
                               facecolors='none', edgecolors=line.get_color())      # not a curve
        ax.set_xlabel('epoch')
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    handles = axes[0].get_legend_handles_labels()[0]
    if best and any(v is not None for v in best.values()):
        handles.append(Line2D([], [], color='gray', linestyle=':', marker='o', markerfacecolor='none',
                              label='picked epoch (lowest validation logloss)'))
    axes[0].legend(handles=handles, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def save_figure(path, doc, names):
    """convergence.png of a run (metrics.json's document); returns the models it shows."""
    curves = [n for n in names if doc[n]['epochs']]          # lr has no epochs
    if curves:
        fig = plot_convergence(
            {n: doc[n]['epochs'] for n in curves},
            title=f"{' vs '.join(LABELS[n] for n in curves)} on {data_name(doc['data'])}, "
                  f"{doc.get('protocol', 'chapter')} protocol",
            best={n: doc[n]['best_epoch'] for n in curves if 'best_epoch' in doc[n]})
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
        plt.close(fig)
    return curves


def format_table(results, protocol=None, seeds=None):
    """One line per model: the reported epoch's test metrics; a legend says what the columns are
    (and, with several seeds, that the rows are the first seed's run)."""
    head = (f"{'model':<8}{'test AUC':>10}{'logloss':>10}{'acc':>8}{'epoch':>7}{'of':>5}"
            f"{'ex/s':>10}{'total s':>9}")
    lines = [head, '-' * len(head)]
    picked = False
    for name, res in results.items():
        f = res['final']
        seconds = sum(r['seconds'] for r in res['epochs']) if res['epochs'] else f['seconds']
        capped = '!' if res.get('at_epoch_cap') else ''
        epoch = f"{str(f['epoch']) + capped:>7}{len(res['epochs']):>5d}" if 'epoch' in f else \
            f"{'-':>7}{'-':>5}"
        picked = picked or 'best_epoch' in res
        speed = f"{f['examples_per_sec']:>10.0f}" if 'examples_per_sec' in f else f"{'-':>10}"
        lines.append(f"{name:<8}{f['test_auc']:>10.4f}{f['test_logloss']:>10.4f}{f['test_acc']:>8.4f}"
                     f"{epoch}{speed}{seconds:>9.1f}")
    how = 'picked on validation logloss' if picked else 'the last one trained'
    lines += [f"epoch: the epoch reported ({how}; the table shows its test metrics); of: epochs "
              "trained" + (f' ({protocol} protocol)' if protocol else ''),
              "ex/s: training examples per second in that epoch; total s: all epochs trained, "
              "evaluation included (lr: the fit, C picked on validation)"]
    if any(res.get('at_epoch_cap') for res in results.values()):
        lines.append('!: stopped at the epoch limit while the validation logloss was still '
                     'improving (not converged: give more --epochs or a larger --lr)')
    if seeds and len(seeds) > 1:
        lines.append(f"the rows are seed {seeds[0]}'s run; the mean ± std over seeds "
                     f"{','.join(map(str, seeds))} is below")
    return '\n'.join(lines)


def format_comparison(comparison, seeds=(0,)):
    """The AUC gaps with their 95% intervals, each saying what it covers: with several seeds the
    mean over them (seed spread and test rows); with one seed the test rows only, and no
    verdict; a test set too small is named and its verdict withheld (stats.verdict)."""
    lines = []
    for key, c in comparison.items():
        a, b = key.split('-')
        size = c.get('test_size') or {'rows': c['rows'], 'clicks': None, 'size': 'enough'}
        sample = f"{size['rows']} test rows" + (f" ({size['clicks']} clicks)" if size['clicks']
                                                 is not None else '')
        if c.get('seeds', 1) > 1:
            what = (f"the mean over seeds {','.join(map(str, seeds))}; the interval covers the "
                    f"seed-to-seed spread (std {c['seed_std']:.4f}) and the {sample}")
        else:
            what = f'seed {seeds[0]} only; the interval resamples the {sample}'
        v = c.get('verdict', stats.verdict(c))
        if v is None and size['size'] == 'too small':
            v = 'no verdict: the test set is too small'
        elif v is None:
            v = ('the test rows alone exclude 0; ' if c['low'] > 0 or c['high'] < 0 else '') + \
                ('no verdict: one seed, so the seed-to-seed spread is not in the interval '
                 '(`compare` runs seeds 0,1,2)')
        elif size['size'] == 'small':
            v += ' (a small test set)'
        lines.append(f"{LABELS[a]} − {LABELS[b]} test AUC: {c['gap']:+.4f}, 95% interval "
                     f"[{c['low']:+.4f}, {c['high']:+.4f}] ({v}; {what})")
    return '\n'.join(lines)


def format_run(doc, names, protocol, seeds):
    """What a finished run prints: the table (the first seed's run), the mean ± std over the
    seeds when there are several, the gaps with their intervals and the small-sample notes."""
    several = 'summary' in doc
    parts = [format_table({n: doc[n] for n in names}, protocol, seeds if several else None)]
    if several:
        parts.append(f'over seeds {",".join(map(str, seeds))}:\n' + format_summary(doc['summary']))
    if doc.get('comparison'):
        parts.append(format_comparison(doc['comparison'], seeds))
    if doc.get('sample_notes'):
        parts.append('\n'.join(doc['sample_notes']))
    return '\n\n'.join(parts)


def sample_notes(valid, test):
    """Lines naming a validation or test set too small for a verdict (stats.sample_size)."""
    notes = []
    for what, data, use in (('validation', valid, 'the picked epoch and C are noisy'),
                            ('test', test, 'AUC gaps under ~0.03 are noise')):
        if data is None or not len(data.labels):
            continue
        s = stats.sample_size(data.labels)
        if s['size'] != 'enough':
            notes.append(f"note: the {what} set is {s['size']} for a verdict ({s['rows']} rows, "
                         f"{s['clicks']} clicks; at least {stats.SMALL['rows']} rows and "
                         f"{stats.SMALL['rarer']} of each class wanted): {use}")
    return notes


def format_summary(summary):
    """The printed table: one line per model, mean ± std over the seeds (one seed: no spread)."""
    head = f"{'model':<8}{'test AUC (mean ± std)':>24}{'logloss (mean ± std)':>24}  {'epochs':<12}seeds"
    lines = [head, '-' * len(head)]
    for name, s in summary.items():
        auc, ll = s['test_auc'], s['test_logloss']
        epochs = ','.join('-' if e is None else str(e) for e in s['best_epoch'])
        spread = (lambda m: f" ± {m['std']:.4f}" if len(set(m['values'])) > 1 else ' (same)') \
            if len(s['seeds']) > 1 else (lambda m: ' (1 seed)')     # lr: the same every seed
        lines.append(f"{name:<8}{auc['mean']:>15.4f}{spread(auc):<9}{ll['mean']:>15.4f}"
                     f"{spread(ll):<9}  {epochs:<12}{','.join(map(str, s['seeds']))}")
    return '\n'.join(lines)


def metrics_document(config, runs, tuning, info, devices, cluster, seeds):
    """metrics.json's document."""
    results = {name: {**rs[0], 'runs': rs} if config.train.seeds else rs[0]
               for name, rs in runs.items()}
    doc = {'data': info, 'protocol': config.train.protocol, 'loss': config.model.loss,
           'seed': seeds[0], 'devices': [str(d) for d in devices], **results}
    if config.train.seeds:
        doc.update(seeds=seeds, summary=stats.summarize(runs))
    if tuning:
        doc['tuning'] = tuning
    if cluster.distributed:
        doc['cluster'] = cluster.describe()
    return doc
