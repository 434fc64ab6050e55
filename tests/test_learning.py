"""What the models learn, measured against the data's own references (not a fixed low bar).

On data drawn from the synthetic generator's planted model (conftest.planted): the planted
model's AUC bounds every model from above; a first-order model (the same FM with its factor
embeddings at zero, trained the same way, and logistic regression) is what FM must beat by
learning the planted pairs; FM is what DeepFM must beat by learning the planted three-way
effects. The margins (0.02) are twice the seed-to-seed spread seen on this data (~0.01).
"""
import mxnet as mx
import pytest

from d2l_deepfm import training
from d2l_deepfm.experiment.baseline import train_lr
from d2l_deepfm.models import build_model

SETTINGS = {'fm': {'num_factors': 8, 'lr': 0.01},
            'deepfm': {'num_factors': 8, 'lr': 0.01, 'mlp_dims': [32, 16], 'dropout': 0.1}}
EPOCHS, BATCH = 3, 512


def fit(name, train, test, first_order_only=False, seed=0):
    devices = [mx.cpu()]
    rng = training.seed_everything(seed)
    net = training.initialize(build_model(name, train.field_dims, SETTINGS[name]), devices)
    if first_order_only:     # v_i = 0 stays 0 (the pairwise term's gradient is sum_j v_j = 0)
        net.embedding.weight.set_data(net.embedding.weight.data() * 0)
    trainer = training.make_trainer(net, SETTINGS[name]['lr'])
    return training.train_ch13(net, train, test, training.make_loss(), trainer, EPOCHS, devices, rng,
                               batch_size=BATCH, progress=False)


@pytest.fixture(scope='session')
def learned(planted):
    """Test AUC of each model after EPOCHS epochs, beside the data's references."""
    train, test = planted.train, planted.test
    auc = {'fm': fit('fm', train, test)[-1]['test_auc'],
           'first_order_fm': fit('fm', train, test, first_order_only=True)[-1]['test_auc'],
           'deepfm': fit('deepfm', train, test)[-1]['test_auc'],
           'lr': train_lr(train, test)['final']['test_auc']}
    return {**planted.refs, **auc}


def test_no_model_beats_the_planted_one(learned):
    for name in ('fm', 'first_order_fm', 'deepfm', 'lr'):
        assert learned[name] < learned['planted'], (name, learned)


def test_first_order_models_reach_the_first_order_effects(learned):
    """The references themselves: a first-order model gets what first-order effects allow."""
    assert learned['first_order_fm'] > learned['first_order'], learned
    assert learned['lr'] > learned['first_order'], learned


def test_fm_learns_the_planted_pairs(learned):
    """Above every first-order model: the factor embeddings learn (frozen ones would not)."""
    assert learned['fm'] > learned['first_order_fm'] + 0.02, learned
    assert learned['fm'] > learned['lr'] + 0.02, learned


def test_deepfm_learns_the_planted_three_way_effects(learned):
    """Above FM, and above even the planted first- and second-order parts: what it gains is
    the three-way effects, which no pairwise model can fit."""
    assert learned['deepfm'] > learned['fm'] + 0.02, learned
    assert learned['deepfm'] > learned['first_and_pairs'] + 0.01, learned
