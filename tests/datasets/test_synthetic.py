import os

import numpy as onp

from d2l_deepfm.datasets import synthetic
from d2l_deepfm.inputs.d2l_layout import read_ctr


def test_same_seed_same_files(tmp_path):
    a = synthetic.make_dataset(str(tmp_path / 'a'), num_train=500, num_test=100, seed=7)
    b = synthetic.make_dataset(str(tmp_path / 'b'), num_train=500, num_test=100, seed=7)
    for name in ('train.csv', 'test.csv'):
        assert open(os.path.join(a, name)).read() == open(os.path.join(b, name)).read()


def test_chapter_layout(tmp_path):
    folder = synthetic.make_dataset(str(tmp_path), num_train=2000, num_test=300, seed=1)
    labels, tokens, skipped = read_ctr(os.path.join(folder, 'train.csv'))
    assert skipped == 0 and tokens.shape == (2000, 34)
    assert set(onp.unique(labels)) == {0.0, 1.0} and 0.1 < labels.mean() < 0.6
    assert tokens[1].str.fullmatch('[0-9a-f]{8}').all()
    assert len(read_ctr(os.path.join(folder, 'test.csv'))[0]) == 300


def test_planted_three_way_interaction_has_no_lower_order_part():
    """The XOR of fields 1-3 moves the click rate, while no single field or pair does much."""
    labels, values = synthetic.generate(60000, seed=0)
    sign = 1 - 2 * (values[:, :3] % 2)
    xor = sign.prod(axis=1)
    gap = labels[xor > 0].mean() - labels[xor < 0].mean()
    assert gap > 0.15
    for f in range(3):
        assert abs(labels[sign[:, f] > 0].mean() - labels[sign[:, f] < 0].mean()) < gap / 4
