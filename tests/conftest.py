import os

import pytest

import d2l_deepfm.numpy_mode  # noqa: F401  (MXNet's NumPy semantics, as the chapter)
from d2l_deepfm.datasets import synthetic


@pytest.fixture(scope='session')
def small_ctr(tmp_path_factory):
    """A small synthetic dataset in the chapter layout (6,000 train / 2,000 test rows)."""
    folder = tmp_path_factory.mktemp('ctr')
    synthetic.make_dataset(str(folder), num_train=6000, num_test=2000, seed=3)
    return str(folder)


@pytest.fixture(scope='session')
def small_data(small_ctr):
    from d2l_deepfm.data import CTRDataset
    train = CTRDataset(os.path.join(small_ctr, 'train.csv'))
    test = CTRDataset(os.path.join(small_ctr, 'test.csv'), train.feat_mapper, train.defaults)
    return train, test


@pytest.fixture(scope='session')
def trained_run(small_ctr, tmp_path_factory):
    """A finished training run (FM and DeepFM, 2 epochs) on small_ctr: its --out folder."""
    from d2l_deepfm.cli import train_command as train
    out = str(tmp_path_factory.mktemp('run') / 'out')
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--epochs', '2', '--batch-size', '512',
                       '--mlp-dims', '16,8', '--out', out, '--no-progress']) == 0
    return out


@pytest.fixture(scope='session')
def small_store(small_ctr, tmp_path_factory):
    """`small_ctr` preprocessed into a memory-mapped store (read-only for the tests)."""
    from d2l_deepfm.store import build as preprocess
    out = str(tmp_path_factory.mktemp('store'))
    preprocess.preprocess('d2l', os.path.join(small_ctr, 'train.csv'), out,
                          test_path=os.path.join(small_ctr, 'test.csv'), workers=1,
                          log=lambda *a: None)
    return out


@pytest.fixture(scope='session')
def planted():
    """Data from the synthetic generator's planted model, with its own references.

    20 fields (the generator's triples, first- and second-order fields; no noise fields), 30,000
    training and 3,000 test rows: enough for FM to learn the planted pairs and for DeepFM the
    three-way effects in a few epochs. `refs`: test AUC of the planted model's logit (the best
    any model can do), of its first-order part, and of its first-order plus pairwise parts."""
    import types

    import numpy as onp
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from d2l_deepfm.data import CTRDataset
    num_feat, num_train, num_test = 20, 30000, 3000
    labels, values = synthetic.generate(num_train + num_test, seed=3, num_feat=num_feat)
    tokens = pd.DataFrame({f + 1: onp.array([synthetic.token(f + 1, v) for v in range(values[:, f].max() + 1)],
                                            dtype=object)[values[:, f]] for f in range(num_feat)})
    train = CTRDataset.from_tokens(labels[:num_train], tokens.iloc[:num_train].reset_index(drop=True))
    test = CTRDataset.from_tokens(labels[num_train:], tokens.iloc[num_train:].reset_index(drop=True),
                                  train.feat_mapper, train.defaults)
    parts = synthetic.planted(values[num_train:], num_feat=num_feat)
    y = labels[num_train:]
    refs = {'planted': roc_auc_score(y, synthetic.true_logit(values[num_train:], num_feat=num_feat)),
            'first_order': roc_auc_score(y, parts['first']),
            'first_and_pairs': roc_auc_score(y, parts['first'] + parts['pairs'])}
    return types.SimpleNamespace(train=train, test=test, refs=refs)
