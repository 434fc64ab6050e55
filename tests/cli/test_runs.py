"""The runs command: two runs in a row without --out leave two finished runs, the table lists
both; sorting, filters, --diff; no argparse abbreviations."""
import csv
import json
import os
import re

from d2l_deepfm.cli import runs_command as runs, train_command as train
from d2l_deepfm.experiment import results
from helpers import assert_one_error_line, call_main

LR = ['--model', 'lr', '--no-progress']


def test_two_runs_without_out_leave_two_finished_runs(small_ctr, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train.main(['--data-dir', small_ctr, *LR]) == 0
    assert train.main(['--data-dir', small_ctr, *LR, '--seed', '1']) == 0
    folders = sorted(p for p in os.listdir('runs') if p[0].isdigit())
    assert len(folders) == 2
    for name in folders:
        assert {'manifest.json', 'metrics.json', 'lr.npz', 'config.json'} <= set(os.listdir(f'runs/{name}'))
    assert os.path.realpath('runs/latest') == os.path.realpath(f'runs/{folders[1]}')
    config = json.load(open(f'runs/{folders[0]}/config.json'))
    assert len(config['data_files']['checksums']) == 2 and config['data_files']['data_sha1']
    capsys.readouterr()
    code, out, err = call_main(runs.main, [], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:8] == ['run', 'date', 'data', 'protocol', 'model', 'seed', 'auc', 'logloss']
    assert [line.split()[0] for line in lines[2:]] == folders
    with open('runs/results.csv') as f:
        rows = list(csv.DictReader(f))
    assert all(len(r['auc'].split('.')[1]) == 4 for r in rows)      # 4 digits, not 16
    # --diff: what differs between the two configs (the seed), by name or through latest
    code, out, err = call_main(runs.main, ['--diff', folders[0], 'latest'], capsys)
    assert code == 0 and 'train.seed' in out and 'differ' in out
    # predict reads runs/latest by default
    from d2l_deepfm.cli import predict_command as predict
    code, out, err = call_main(predict.main, ['--input', os.path.join(small_ctr, 'test.csv')], capsys)
    assert code == 0 and len(out.splitlines()) == 2000


def table(tmp_path, docs):
    path = str(tmp_path / 'results.csv')
    for i, (protocol, aucs) in enumerate(docs):
        doc = {'data': {'source': 'files', 'train': f'/d/train{i}.txt', 'format': 'criteo',
                        'data_sha1': 'abc'}, 'protocol': protocol, 'seed': 0}
        for model, auc in aucs.items():
            doc[model] = {'final': {'test_auc': auc, 'test_logloss': 0.5 - auc / 10, 'epoch': 3,
                                    'seconds': 1.0}, 'epochs': [], 'seed': 0}
        results.append(path, results.rows_of(doc, str(tmp_path / f'run{i}'), 'cmd', f'c{i}'))
    return str(tmp_path)


def test_sorting_and_filters(tmp_path, capsys):
    root = table(tmp_path, [('default', {'fm': 0.71, 'deepfm': 0.7312345678}),
                            ('chapter', {'fm': 0.69, 'deepfm': 0.75})])
    code, out, _ = call_main(runs.main, ['--root', root, '--sort', 'auc'], capsys)
    aucs = [re.findall(r' (0\.\d{4}) ', line)[0] for line in out.splitlines()[2:]]
    assert code == 0 and aucs == ['0.7500', '0.7312', '0.7100', '0.6900']
    code, out, _ = call_main(runs.main, ['--root', root, '--model', 'fm', '--protocol', 'chapter'], capsys)
    assert [line.split()[0] for line in out.splitlines()[2:]] == ['run1']
    code, out, _ = call_main(runs.main, ['--root', root, '--sort', 'logloss', '--last', '1'], capsys)
    assert len(out.splitlines()) == 3 and ' fm ' in out.splitlines()[2] and '0.6900' in out
    code, out, err = call_main(runs.main, ['--root', root, '--data', 'nothing'], capsys)
    assert_one_error_line(code, err, 'no run matches')


def test_a_missing_table_and_abbreviations_are_one_error_line(tmp_path, capsys):
    assert_one_error_line(*call_main(runs.main, ['--root', tmp_path], capsys)[::2], 'no results table')
    assert_one_error_line(*call_main(runs.main, ['--roo', tmp_path], capsys)[::2], 'unrecognized')
    assert_one_error_line(*call_main(train.main, ['--epoch', '3'], capsys)[::2], 'unrecognized')


def test_a_table_of_an_older_version_is_kept_aside(tmp_path):
    path = tmp_path / 'results.csv'
    path.write_text('time,out,command\n2026-01-01,x,y\n')
    assert table(tmp_path, [('default', {'fm': 0.7})])
    assert (tmp_path / 'results.csv.old').read_text().startswith('time,out,')
    assert len(results.read(str(path))) == 1
