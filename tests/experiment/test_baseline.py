import numpy as onp

from d2l_deepfm.experiment import baseline


def test_one_hot_has_one_column_per_field(small_data):
    train, _ = small_data
    X = baseline.one_hot(train)
    assert X.shape == (len(train), int(train.field_dims.sum()))
    assert (onp.asarray(X.sum(axis=1)).ravel() == train.NUM_FEATS).all()
    row = X[5].nonzero()[1]
    assert sorted(row) == sorted(train.features[5])


def test_logistic_regression_learns_and_picks_c_on_validation(small_data):
    train, test = small_data
    plain = baseline.train_lr(train, test)
    assert plain['config']['C'] == 1.0 and plain['epochs'] == []
    assert 0.65 < plain['final']['test_auc'] < 1
    tuned = baseline.train_lr(train, test, valid=test)
    assert tuned['config']['C'] in baseline.C_GRID
    assert tuned['final']['valid_logloss'] <= plain['final']['test_logloss'] + 1e-9
