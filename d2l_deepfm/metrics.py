"""The evaluation metrics, with numpy (imports nothing from the package, no MXNet).

The numbers of scikit-learn's log_loss (p clipped to [1e-7, 1 - 1e-7]), roc_auc_score and
accuracy_score (tests/test_training.py compares them): sklearn's input checks cost more than the
metrics on a small test set (~5% of a small epoch), and the bootstrap intervals compute
thousands of AUCs. AUC is the Mann-Whitney statistic: the mean rank of the clicks (ties share
their mean rank, i.e. count one half), which is the area under the ROC curve.
"""
import numpy as onp
import pandas as pd


def auc(labels, p):
    """ROC AUC of probabilities `p` for 0/1 `labels` (nan when only one class is present)."""
    labels = onp.asarray(labels, dtype=onp.float64).ravel()
    clicks = labels.sum()
    if not 0 < clicks < len(labels):
        return float('nan')
    ranks = pd.Series(onp.asarray(p, dtype=onp.float64).ravel()).rank(method='average').to_numpy()
    return float((ranks[labels == 1].sum() - clicks * (clicks + 1) / 2)
                 / (clicks * (len(labels) - clicks)))


def scores(labels, p):
    """logloss, AUC and accuracy at 0.5 of click probabilities `p` (any model's)."""
    labels = onp.asarray(labels, dtype=onp.float64).ravel()
    p = onp.asarray(p, dtype=onp.float64).ravel()
    if len(labels) == 0 or len(labels) != len(p):
        raise ValueError(f'scores: {len(labels)} labels for {len(p)} predictions')
    q = onp.clip(p, 1e-7, 1 - 1e-7)
    logloss = -onp.mean(onp.where(labels == 1, onp.log(q), onp.log1p(-q)))
    return {'logloss': float(logloss), 'auc': auc(labels, p),
            'acc': float(onp.mean((p > 0.5) == labels))}
