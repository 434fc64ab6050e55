"""Calibration of the test-set probabilities: ECE, mean predicted / observed CTR, calibration.png."""
import json
import os

import numpy as onp
import pytest

from d2l_deepfm.cli import train_command as train
from d2l_deepfm.experiment.calibration import summarize


def test_ece_and_ratio_on_known_numbers():
    # two bins: [0.1, 0.1] with labels [0, 1] (rate 0.5) and [0.85] with label 1
    c = summarize([0, 1, 1], [0.1, 0.1, 0.85])
    assert c['bins']['count'][1] == 2 and c['bins']['count'][8] == 1
    assert c['ece'] == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.15)
    assert c['ratio'] == pytest.approx((0.1 + 0.1 + 0.85) / 3 / (2 / 3))
    assert c['bins']['observed'][0] is None                 # empty bins are not plotted


def test_calibrated_probabilities_have_small_ece_and_squeezed_ones_large():
    rng = onp.random.default_rng(0)
    p = rng.beta(1, 4, size=200_000)
    y = (rng.random(len(p)) < p).astype(float)
    good = summarize(y, p)
    assert good['ece'] < 0.005 and good['ratio'] == pytest.approx(1, abs=0.01)
    squeezed = summarize(y, 0.5 + 0.25 * p)                # every probability shifted up
    assert squeezed['ece'] > 0.25 and squeezed['ratio'] > 2.5


def test_every_run_writes_calibration_per_model(trained_run):
    metrics = json.load(open(os.path.join(trained_run, 'metrics.json')))
    with open(os.path.join(trained_run, 'calibration.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    for name in ('fm', 'deepfm'):
        c = metrics[name]['calibration']
        assert sum(c['bins']['count']) == metrics['data']['test_rows']
        assert 0 <= c['ece'] < 1 and c['ratio'] > 0
        assert c['ratio'] == pytest.approx(c['mean_predicted'] / c['observed_ctr'])


def test_the_chapter_loss_is_miscalibrated(small_ctr, tmp_path):
    """--loss chapter trains sigmoid(p) towards the labels, and sigmoid(p) >= 0.5 for p in
    [0, 1]: wherever the click rate is below 0.5 the gradient pushes p to 0. The mean
    prediction ends far from the ~0.25 click rate, where the fixed loss keeps it close."""
    ece = {}
    for loss in ('fixed', 'chapter'):
        out = str(tmp_path / loss)
        assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--model', 'fm', '--epochs', '2', '--batch-size', '512',
                           '--loss', loss, '--out', out, '--no-progress']) == 0
        c = json.load(open(os.path.join(out, 'metrics.json')))['fm']['calibration']
        ece[loss] = c['ece']
        if loss == 'chapter':
            assert c['ratio'] < 0.5
        else:
            assert 0.8 < c['ratio'] < 1.25
    assert ece['chapter'] > 0.2 > ece['fixed']
