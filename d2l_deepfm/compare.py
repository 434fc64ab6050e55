"""FM vs DeepFM (vs logistic regression) over several seeds: mean ± std of the test metrics.

One run's numbers can be luck; the comparison is worth something when the gap between the
models is larger than the seed-to-seed spread. `python -m d2l_deepfm.compare [train options]`
is `python -m d2l_deepfm.train --model all --seeds 0,1,2 [train options]` (any of them can be
overridden). The spread is the sample standard deviation (ddof=1) over the seeds; the seed sets
the initialization, the epoch shuffles and dropout, not the data split.
"""
import sys

import numpy as onp

METRICS = ('test_auc', 'test_logloss')


def mean_std(values):
    values = onp.asarray(values, dtype=onp.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {'mean': float(values.mean()), 'std': std, 'values': [float(v) for v in values]}


def summarize(runs):
    """runs: {model: [result per seed]} (results with 'seed', 'final', optional 'best_epoch')
    -> {model: {'seeds', 'test_auc': {mean, std, values}, 'test_logloss': {...}, 'best_epoch'}}."""
    summary = {}
    for name, results in runs.items():
        entry = {'seeds': [r['seed'] for r in results]}
        for key in METRICS:
            entry[key] = mean_std([r['final'][key] for r in results])
        entry['best_epoch'] = [r.get('best_epoch', r['final'].get('epoch')) for r in results]
        summary[name] = entry
    return summary


def format_summary(summary):
    """The printed table: one line per model, mean ± std over the seeds."""
    head = f"{'model':<8}{'test AUC (mean ± std)':>24}{'logloss (mean ± std)':>24}  {'epochs':<12}seeds"
    lines = [head, '-' * len(head)]
    for name, s in summary.items():
        auc, ll = s['test_auc'], s['test_logloss']
        epochs = ','.join('-' if e is None else str(e) for e in s['best_epoch'])
        lines.append(f"{name:<8}{auc['mean']:>15.4f} ± {auc['std']:.4f}{ll['mean']:>15.4f} ± "
                     f"{ll['std']:.4f}  {epochs:<12}{','.join(map(str, s['seeds']))}")
    return '\n'.join(lines)


def main(argv=None):
    from . import train
    argv = list(sys.argv[1:] if argv is None else argv)
    return train.main(['--model', 'all', '--seeds', '0,1,2', *argv])


if __name__ == '__main__':
    sys.exit(main())
