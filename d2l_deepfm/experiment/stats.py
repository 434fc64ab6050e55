"""Statistics of a comparison: mean ± std over seeds.

One run's numbers can be luck; the comparison is worth something when the gap between the
models is larger than the seed-to-seed spread. The spread is the sample standard deviation
(ddof=1) over the seeds; the seed sets the initialization, the epoch shuffles and dropout, not
the data split.
"""
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
