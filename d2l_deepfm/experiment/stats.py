"""Statistics of a comparison: mean ± std over seeds; intervals of AUC gaps that count both
sources of noise; whether a test or validation set is large enough for a verdict.

One run's numbers can be luck twice over: the test rows are a sample (the paired bootstrap
resamples them) and so is the training run (the seed sets the initialization, the epoch
shuffles and dropout, not the data split). With several seeds the interval of a gap covers
both (`gap_interval`); with one seed only the test rows are in it, and it says so. The spread
is the sample standard deviation (ddof=1) over the seeds.
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
            'rows': int(len(labels)), 'rounds': rounds, 'row_sd': float(onp.std(gaps, ddof=1))}


def gap_interval(labels, preds_a, preds_b, rounds=1000, seed=0, level=0.95):
    """The test AUC gap a − b (mean over the seeds) with a `level` interval that counts the
    test rows and, with two or more seeds, the seed-to-seed spread too.

    One seed: paired_bootstrap's interval (test rows only; 'covers': 'test rows').
    Several: the mean gap ± t·sqrt(s²/k + r²), s the std of the k per-seed gaps, r the
    bootstrap std of the mean gap over the test rows, t Student's with Welch-Satterthwaite's
    degrees of freedom (k − 1 when the seeds dominate, many when the rows do). Also returns
    the per-seed gaps, their std and the rows-only interval ('row_low', 'row_high')."""
    rows = paired_bootstrap(labels, preds_a, preds_b, rounds=rounds, seed=seed, level=level)
    labels = onp.asarray(labels)
    per_seed = [float(auc(labels, onp.asarray(a)) - auc(labels, onp.asarray(b)))
                for a, b in zip(preds_a, preds_b)]
    k = len(per_seed)
    out = {**rows, 'row_low': rows['low'], 'row_high': rows['high'], 'seeds': k,
           'seed_gaps': per_seed, 'seed_std': float(onp.std(per_seed, ddof=1)) if k > 1 else None,
           'covers': 'test rows' if k == 1 else 'seeds and test rows'}
    if k > 1:
        from scipy.stats import t as student
        a, r = out['seed_std'] ** 2 / k, rows['row_sd'] ** 2
        df = (a + r) ** 2 * (k - 1) / a ** 2 if a > 0 else 1e9
        half = float(student.ppf(0.5 + level / 2, df)) * (a + r) ** 0.5
        out.update(low=rows['gap'] - half, high=rows['gap'] + half, df=float(df))
    return out


# A test or validation set whose rows or rarer class (clicks, or non-clicks) fall below
# SMALL is named as small and its verdicts marked; below TOO_SMALL they are withheld. (With
# 100 clicks an AUC has a standard error of about 0.03.)
SMALL = {'rows': 1000, 'rarer': 100}
TOO_SMALL = {'rows': 200, 'rarer': 20}


def sample_size(labels):
    """{'rows', 'clicks', 'size': 'enough' | 'small' | 'too small'} of a set's labels."""
    y = onp.asarray(labels)
    rows, clicks = int(len(y)), int(y.sum())
    rarer = min(clicks, rows - clicks)
    size = ('too small' if rows < TOO_SMALL['rows'] or rarer < TOO_SMALL['rarer'] else
            'small' if rows < SMALL['rows'] or rarer < SMALL['rarer'] else 'enough')
    return {'rows': rows, 'clicks': clicks, 'size': size}


def verdict(c, size=None):
    """'above 0', 'below 0' or 'includes 0' for a gap_interval, or None (withheld) when it
    has one seed (the seed spread is not in it) or the test set is too small (`size`)."""
    if c.get('seeds', 1) < 2 or (size and size['size'] == 'too small'):
        return None
    return 'above 0' if c['low'] > 0 else 'below 0' if c['high'] < 0 else 'includes 0'


def comparisons(labels, preds, pairs=(('deepfm', 'fm'), ('deepfm', 'lr'))):
    """{'deepfm-fm': gap_interval(...), ...} for the pairs whose models both ran, each with
    the test set's size and its verdict."""
    size = sample_size(labels)
    out = {}
    for a, b in pairs:
        if a in preds and b in preds:
            c = gap_interval(labels, preds[a], preds[b])
            out[f'{a}-{b}'] = {**c, 'test_size': size, 'verdict': verdict(c, size)}
    return out
