"""The notebook runs headless (papermill, short) and shows the FM-vs-DeepFM convergence figure."""
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
    assert len(pngs) == 1                        # a reader sees the full run's curves
    assert os.path.getsize(NOTEBOOK) < 300_000


def test_notebook_runs_headless_and_plots(small_ctr, tmp_path, monkeypatch):
    papermill = pytest.importorskip('papermill')
    monkeypatch.setenv('PYTHONPATH', ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = tmp_path / 'deepfm.ipynb'
    nb = papermill.execute_notebook(NOTEBOOK, str(out), parameters={'epochs': 2, 'data_dir': small_ctr},
                                    kernel_name='python3', cwd=os.path.dirname(NOTEBOOK),
                                    progress_bar=False)
    pngs = [o['data']['image/png'] for o in outputs(nb) if 'image/png' in o.get('data', {})]
    assert len(pngs) == 1
    png = base64.b64decode(pngs[0])
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    text = ''.join(o.get('text', '') for o in outputs(nb))
    assert '6000 training rows' in text
    assert all(name in text for name in ('fm ', 'deepfm', 'lr ')) and 'test AUC' in text
