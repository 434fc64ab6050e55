"""The notebook runs headless (papermill, short): the chapter's curves, the default protocol's
curves, and sentences that match its numbers at any `epochs`."""
import base64
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
    out = tmp_path / 'deepfm.ipynb'
    nb = papermill.execute_notebook(NOTEBOOK, str(out), parameters={'epochs': 2, 'data_dir': small_ctr},
                                    kernel_name='python3', cwd=ROOT,     # started from the repo root
                                    progress_bar=False)
    pngs = [o['data']['image/png'] for o in outputs(nb) if 'image/png' in o.get('data', {})]
    assert len(pngs) == 2
    for png in map(base64.b64decode, pngs):
        assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    text = ''.join(o.get('text', '') for o in outputs(nb))
    assert '6000 training rows' in text
    assert all(name in text for name in ('fm ', 'deepfm', 'lr ')) and 'test AUC' in text
    assert 'DeepFM − FM test AUC' in text and 'DeepFM − LR test AUC' in text
    said = ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for o in outputs(nb))
    assert said.count('the last epoch (2)') == 2 and 'of 2 epochs' in said   # computed for epochs=2
