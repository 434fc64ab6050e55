"""A folder per run: without --out each run gets runs/<date>_<time> (unique), runs/latest points
at the newest finished run, and a finished run is never replaced unless named with --out."""
import datetime
import os

import pytest

from d2l_deepfm import run_folder
from d2l_deepfm.run_folder import RunFolder


def test_new_runs_in_the_same_second_get_their_own_folders(tmp_path):
    now = datetime.datetime(2026, 12, 3, 15, 25, 1)
    a, b, c = (run_folder.new_run(str(tmp_path), now) for _ in range(3))
    assert [os.path.basename(p) for p in (a, b, c)] == \
        ['2026-12-03_152501', '2026-12-03_152501-2', '2026-12-03_152501-3']
    assert all(os.path.isdir(p) for p in (a, b, c))


def test_latest_is_a_link_or_a_file_and_both_resolve(tmp_path, monkeypatch):
    a, b = run_folder.new_run(str(tmp_path)), run_folder.new_run(str(tmp_path))
    assert run_folder.mark_latest(a) and run_folder.mark_latest(b)
    latest = tmp_path / 'latest'
    assert os.path.islink(latest) and os.path.realpath(latest) == os.path.realpath(b)
    monkeypatch.setattr(os, 'symlink', lambda *a: (_ for _ in ()).throw(OSError('no links')))
    assert run_folder.mark_latest(a)
    assert latest.is_file() and not latest.is_symlink()
    assert os.path.realpath(run_folder.resolve(str(latest))) == os.path.realpath(a)


def test_a_latest_folder_of_an_older_version_is_left_alone(tmp_path):
    (tmp_path / 'latest').mkdir()
    (tmp_path / 'latest' / 'metrics.json').write_text('{}')
    assert not run_folder.mark_latest(run_folder.new_run(str(tmp_path)))
    assert (tmp_path / 'latest' / 'metrics.json').exists()


def test_a_new_folder_left_empty_by_a_failed_run_is_removed(tmp_path):
    with pytest.raises(RuntimeError):
        with run_folder.allocated(None, str(tmp_path)) as out:
            open(os.path.join(out, '.lock'), 'w').close()
            raise RuntimeError('the data was bad')
    assert os.listdir(tmp_path) == []
    with run_folder.allocated('given') as out:        # a named folder is the user's
        assert out == 'given'


def test_the_file_names_live_in_one_place():
    run = RunFolder('r')
    assert run.model('fm') == os.path.join('r', 'fm.params')
    assert run.model(RunFolder.tag('deepfm', 1, 7)) == os.path.join('r', 'deepfm-seed7.params')
    assert run.model(RunFolder.tag('lr', 0, 0)) == os.path.join('r', 'lr.npz')
    assert RunFolder.epoch_files('fm', 3) == ('fm-epoch0003.params', 'fm-epoch0003.states')
    assert run.checkpoint('fm') == os.path.join('r', 'checkpoints', 'fm.json')
    assert run_folder.results_table('runs/x') == os.path.join(os.path.abspath('runs'), 'results.csv')
