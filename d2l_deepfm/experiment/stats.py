"""Statistics of a comparison: mean ± std over seeds; paired bootstrap intervals of AUC gaps.

One run's numbers can be luck; the comparison is worth something when the gap between the
models is larger than the seed-to-seed spread. The spread is the sample standard deviation
(ddof=1) over the seeds; the seed sets the initialization, the epoch shuffles and dropout, not
the data split.
"""
import numpy as onp

from ..metrics import auc

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


def paired_bootstrap(labels, preds_a, preds_b, rounds=1000, seed=0, level=0.95):
    """The test AUC gap a − b and its `level` interval, resampling the test rows (paired: the
    same rows for both models): how much of the gap the test set's size allows.

    preds_a, preds_b: lists of test probabilities, one per seed (the gap is the mean over the
    seeds). Returns {'gap', 'low', 'high', 'rows', 'rounds'}."""
    labels = onp.asarray(labels)
    preds_a, preds_b = [onp.asarray(p) for p in preds_a], [onp.asarray(p) for p in preds_b]

    def gap(rows):
        y = labels[rows]
        return float(onp.mean([auc(y, pa[rows]) - auc(y, pb[rows])
                               for pa, pb in zip(preds_a, preds_b)]))
    rng, gaps = onp.random.default_rng(seed), []
    for _ in range(rounds):
        rows = rng.integers(0, len(labels), len(labels))
        if 0 < labels[rows].sum() < len(rows):
            gaps.append(gap(rows))
    low, high = onp.percentile(gaps, [50 * (1 - level), 100 - 50 * (1 - level)])
    return {'gap': gap(onp.arange(len(labels))), 'low': float(low), 'high': float(high),
            'rows': int(len(labels)), 'rounds': rounds}


def comparisons(labels, preds, pairs=(('deepfm', 'fm'), ('deepfm', 'lr'))):
    """{'deepfm-fm': paired_bootstrap(...), ...} for the pairs whose models both ran."""
    return {f'{a}-{b}': paired_bootstrap(labels, preds[a], preds[b])
            for a, b in pairs if a in preds and b in preds}
