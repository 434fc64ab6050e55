"""The notebook runs headless (papermill, short): the chapter's curves, the default protocol's
curves, and sentences that match its numbers at any `epochs`."""
import base64
import json
import math
import os

import pytest

import figures
from d2l_deepfm.experiment import report
from helpers import ROOT

NOTEBOOK = os.path.join(ROOT, 'notebooks', 'deepfm.ipynb')


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]


def test_committed_notebook_shows_the_curves_and_stays_small():
    nbformat = pytest.importorskip('nbformat')
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]
    assert len(tagged) == 1 and 'epochs = 30' in tagged[0].source
    pngs = [o for o in outputs(nb) if 'image/png' in o.get('data', {})]
    assert len(pngs) == 2                        # a reader sees the full run's curves (chapter, default)
    assert os.path.getsize(NOTEBOOK) < 300_000
    said = ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for o in outputs(nb))
    assert 'epochs past the lowest test logloss' in said      # 30 epochs: the overfitting shows


def test_notebook_runs_headless_and_plots(small_ctr, tmp_path, monkeypatch):
    papermill = pytest.importorskip('papermill')
    monkeypatch.setenv('PYTHONPATH', ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    # the kernel describes every figure it shows (tests/figures.py) into FIGURES_JSON
    startup = tmp_path / 'ipython' / 'profile_default' / 'startup'
    startup.mkdir(parents=True)
    (startup / '00-figures.py').write_text(figures.STARTUP)
    monkeypatch.setenv('IPYTHONDIR', str(tmp_path / 'ipython'))
    monkeypatch.setenv('FIGURES_JSON', str(tmp_path / 'figures.json'))
    monkeypatch.setenv('FIGURES_HELPER_DIR', os.path.join(ROOT, 'tests'))
    out = tmp_path / 'deepfm.ipynb'
    epochs = 2
    nb = papermill.execute_notebook(NOTEBOOK, str(out), parameters={'epochs': epochs, 'data_dir': small_ctr},
                                    kernel_name='python3', cwd=ROOT,     # started from the repo root
                                    progress_bar=False)
    pngs = [o['data']['image/png'] for o in outputs(nb) if 'image/png' in o.get('data', {})]
    assert len(pngs) == 2                         # the chapter's curves, the default protocol's
    shown = json.loads((tmp_path / 'figures.json').read_text())
    assert len(shown) == 2                        # the figures behind the PNGs, by content
    labels = [label for _, label in report.PANELS]
    for i, panels in enumerate(shown):
        # the chapter's protocol has no validation set: no validation panel
        expected = [l for l in labels if i == 1 or not l.startswith('validation')]
        assert list(panels) == expected, (i, list(panels))
        for key, label in report.PANELS:
            if label not in panels:
                continue
            curves = panels[label]['curves']
            assert sorted(curves) == ['DeepFM', 'FM'], (label, sorted(curves))
            for xs, ys in curves.values():
                assert xs == list(range(1, epochs + 1)) and all(math.isfinite(y) for y in ys)
                if key == 'test_auc':
                    assert all(0 < y < 1 for y in ys), ys
                if key == 'train_loss':
                    assert ys[-1] < ys[0], ys                         # the models train
            for x, colour in panels[label]['marks']:                # a picked epoch: a model's, in range
                assert 1 <= x <= epochs and colour in panels[label]['colours'].values()
        assert (i == 1) == bool(panels[labels[-1]]['marks'])       # only the default picks epochs
    for png in map(base64.b64decode, pngs):
        assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    text = ''.join(o.get('text', '') for o in outputs(nb))
    assert '6000 training rows' in text
    assert all(name in text for name in ('fm ', 'deepfm', 'lr ')) and 'test AUC' in text
    assert 'DeepFM − FM test AUC' in text and 'DeepFM − LR test AUC' in text
    said = ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for o in outputs(nb))
    assert said.count('the last epoch (2)') == 2 and 'of 2 epochs' in said   # computed for epochs=2
