"""Logistic regression on the same one-hot features: what FM's factorization buys over it.

Not in the chapter. A row's model input is one index per field (`dataset.features`, offsets
applied), i.e. a one-hot vector of length sum(field_dims) with one 1 per field; logistic
regression on it is FM without the pairwise term (w_0 + sum_i w_i x_i), fitted to convergence
by scikit-learn (L2 penalty, lbfgs). With a validation set, the penalty strength C is chosen
from `C_GRID` by validation logloss (as early stopping picks the epoch for FM and DeepFM);
without one, C = 1 (scikit-learn's default).
"""
import time

import numpy as onp
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from ..files import atomic_write
from ..training import scores
from .calibration import summarize as calibration_of

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def rows_of(dataset):
    """(features, labels) of the rows a model trains on (a store's held-out rows skipped)."""
    keep = getattr(dataset, 'keep', None)
    if keep is None:
        return onp.asarray(dataset.features), onp.asarray(dataset.labels)
    return onp.asarray(dataset.features[keep]), onp.asarray(dataset.labels[keep])


def one_hot(dataset, num_inputs=None):
    """scipy CSR matrix (n, num_inputs): row r has a 1 in each column of dataset.features[r]."""
    features = rows_of(dataset)[0]
    n, num_fields = features.shape
    num_inputs = int(num_inputs or dataset.field_dims.sum())
    indptr = onp.arange(0, n * num_fields + 1, num_fields)
    data = onp.ones(n * num_fields, dtype=onp.float64)
    return sparse.csr_matrix((data, features.ravel(), indptr), shape=(n, num_inputs))


def fit(X, y, C=1.0):
    return LogisticRegression(C=C, max_iter=2000, solver='lbfgs').fit(X, y)


def train_lr(train, test, valid=None, C=None, path=None):
    """Fit on train (choosing C on valid if given); return a result shaped like the models':
    {'config', 'epochs': [], 'final': {test_logloss, test_auc, test_acc[, valid_*], seconds},
    'calibration', 'test_pred'}. path: where to save the fitted model (save_lr), if given."""
    start = time.perf_counter()
    num_inputs = int(train.field_dims.sum())
    X, Xt = one_hot(train, num_inputs), one_hot(test, num_inputs)
    y = rows_of(train)[1]
    Xv = one_hot(valid, num_inputs) if valid is not None else None
    if C is None and valid is not None:
        by_c = {c: scores(valid.labels, fit(X, y, c).predict_proba(Xv)[:, 1])['logloss']
                for c in C_GRID}
        C = min(by_c, key=by_c.get)
    C = 1.0 if C is None else C
    model = fit(X, y, C)
    test_pred = model.predict_proba(Xt)[:, 1]
    test_scores = scores(test.labels, test_pred)
    final = {f'test_{k}': v for k, v in test_scores.items()}
    if valid is not None:
        final.update({f'valid_{k}': v
                      for k, v in scores(valid.labels, model.predict_proba(Xv)[:, 1]).items()})
    final['seconds'] = time.perf_counter() - start
    if path is not None:
        save_lr(path, model, C)
    return {'config': {'C': C, 'penalty': 'l2', 'solver': 'lbfgs'}, 'epochs': [], 'final': final,
            'calibration': calibration_of(test.labels, test_pred),
            'test_pred': test_pred}       # (not in metrics.json: the bootstrap intervals use it)


def save_lr(path, model, C):
    """<run>/lr.npz: coef (num_inputs,) and intercept (float64, scikit-learn's), C; predict
    and export read it back (scoring/trained.py)."""
    def write(tmp):
        with open(tmp, 'wb') as f:
            onp.savez(f, coef=model.coef_.ravel(), intercept=model.intercept_.ravel(),
                      C=onp.array([C]))
    atomic_write(path, write)
