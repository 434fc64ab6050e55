"""The run config: built from the flags, checked in one place, written whole, and repeatable."""
import csv
import json
import os
import subprocess
import sys

import pytest

from d2l_deepfm.errors import ConfigError
from d2l_deepfm.experiment.config import RunConfig
from d2l_deepfm.cli.train_command import config_from_argv
from helpers import ROOT, assert_one_error_line, call_main



def test_flags_become_the_config():
    c = config_from_argv(['--model', 'deepfm', '--lr', '0.005', '--mlp-dims', '8,4', '--seeds', '1,2',
                          '--valid-fraction', '0.2', '--patience', '3', '--out', 'o'])
    assert (c.model.model, c.model.lr, c.model.mlp_dims) == ('deepfm', 0.005, [8, 4])
    assert c.seeds == [1, 2] and c.data.valid_fraction == 0.2 and c.train.patience == 3
    settings = c.model_settings('deepfm')
    assert settings == {'num_factors': 10, 'lr': 0.005, 'mlp_dims': [8, 4], 'dropout': 0.1}
    assert c.model_settings('fm') == {'num_factors': 20, 'lr': 0.005}      # the chapter's + --lr
    assert RunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c    # JSON round trip


@pytest.mark.parametrize('argv, message', [
    (['--valid', 'v', '--valid-fraction', '0.1'], 'not both'),
    (['--train', 't'], 'go together'),
    (['--format', 'criteo'], 'needs --train'),
    (['--protocol', 'chapter', '--patience', '3'], 'needs a validation set'),
    (['--protocol', 'chapter', '--wd', 'auto'], 'validation set'),
    (['--kvstore', 'dist_sync'], 'one model per job'),
    (['--kvstore', 'dist_sync', '--model', 'fm', '--resume'], 'does not work'),
    (['--data-store', 's', '--valid-fraction', '0.1'], 'do not apply'),
])
def test_conflicting_options_are_refused_where_the_config_is_built(argv, message):
    with pytest.raises(ConfigError, match=message):
        config_from_argv(argv)


def test_a_config_made_in_python_gets_its_protocol_like_the_command_line():
    """RunConfig(train=TrainConfig(protocol='chapter')) is the chapter's run, as --protocol chapter
    is: the same settings, and the same checks (a patience without a validation set)."""
    from d2l_deepfm.experiment.config import DataConfig, TrainConfig
    from d2l_deepfm.experiment.protocol import PROTOCOLS
    for protocol in ('chapter', 'default'):
        made = RunConfig(train=TrainConfig(protocol=protocol)).check()
        flags = config_from_argv(['--protocol', protocol])
        assert made.replace(command=flags.command) == flags
        assert made.train.batch_size == PROTOCOLS[protocol]['batch_size']
        assert made.model.model == PROTOCOLS[protocol]['model']
    chapter = RunConfig(train=TrainConfig(protocol='chapter')).check()
    assert chapter.train.patience is None and chapter.data.valid_fraction is None
    assert chapter.model_settings('fm') == config_from_argv(['--protocol', 'chapter']).model_settings('fm')
    with pytest.raises(ConfigError, match='--patience needs a validation set'):
        RunConfig(train=TrainConfig(protocol='chapter', patience=3)).check()
    given = RunConfig(data=DataConfig(valid_fraction=0.2),
                      train=TrainConfig(protocol='chapter', batch_size=64)).check()
    assert (given.train.batch_size, given.train.patience, given.data.valid_fraction) == (64, None, 0.2)
    assert RunConfig(data=DataConfig(valid='v.csv')).check().train.patience == \
        PROTOCOLS['default']['patience']                     # a validation file: the default stops early
    assert RunConfig(data=DataConfig(valid='v.csv')).check().data.valid_fraction is None


def test_digest_ignores_where_outputs_go():
    a, b = config_from_argv(['--out', 'x']), config_from_argv(['--out', 'y', '--no-progress'])
    assert a.digest() == b.digest()
    assert a.digest() != config_from_argv(['--lr', '0.1']).digest()


def test_config_json_repeats_the_run(small_ctr, tmp_path):
    """--config OUT/config.json [--out DIR] repeats a run exactly: same metrics, same record."""
    from d2l_deepfm.cli import train_command as train
    a, b = tmp_path / 'a', tmp_path / 'b'
    assert train.main(['--data-dir', small_ctr, '--model', 'all', '--epochs', '2', '--batch-size', '512',
                       '--mlp-dims', '8', '--valid-fraction', '0.2', '--no-progress',
                       '--out', str(a)]) == 0
    recorded = json.loads((a / 'config.json').read_text())
    assert recorded['data']['data_dir'] == small_ctr and recorded['train']['epochs'] == 2
    assert recorded['data_files']['train'].endswith('train.csv')       # the files, not only the folder
    assert recorded['versions']['mxnet'] == '1.9.1' and recorded['command'][:3] == \
        ['python', '-m', 'd2l_deepfm.train']
    assert train.main(['--config', str(a / 'config.json'), '--out', str(b), '--no-progress']) == 0
    ma, mb = (json.loads((d / 'metrics.json').read_text()) for d in (a, b))
    for name in ('fm', 'deepfm', 'lr'):
        for key in ('test_auc', 'test_logloss', 'valid_logloss'):
            assert ma[name]['final'][key] == mb[name]['final'][key], (name, key)
    assert json.loads((b / 'config.json').read_text())['digest'] == recorded['digest']
    # the results table beside the run folders: one line per model of each finished run
    with open(tmp_path / 'results.csv') as f:
        rows = {(r['run'], r['model']): r for r in csv.DictReader(f)}
    assert sorted(rows) == [(run, m) for run in ('a', 'b') for m in ('deepfm', 'fm', 'lr')]
    assert {r['out'] for r in rows.values()} == {str(a), str(b)}
    assert {r['config_sha1'] for r in rows.values()} == {recorded['digest']}
    assert rows['a', 'deepfm']['auc'] == f"{ma['deepfm']['final']['test_auc']:.4f}"
    assert rows['a', 'lr']['epoch'] == '' and int(rows['a', 'fm']['epoch']) == ma['fm']['final']['epoch']
    assert rows['a', 'fm']['data_sha1'] == recorded['data_files']['data_sha1'] != ''


def test_config_with_other_flags_is_one_error_line(tmp_path, capsys):
    from d2l_deepfm.cli import train_command as train
    path = tmp_path / 'config.json'
    path.write_text(json.dumps(RunConfig().to_dict()))
    assert_one_error_line(*call_main(train.main, ['--config', path, '--lr', '0.1'], capsys)[::2],
                          'drop --lr')
    path.write_text('{"version": 1, "data": {"nope": 1}}')
    assert_one_error_line(*call_main(train.main, ['--config', path], capsys)[::2], str(path))


def test_help_answers_without_loading_mxnet():
    code = ('import sys, runpy\nsys.argv = ["x", "--help"]\n'
            'try:\n    runpy.run_module("d2l_deepfm.{}", run_name="__main__")\n'
            'except SystemExit:\n    pass\nassert "mxnet" not in sys.modules, "mxnet loaded"\n')
    for command in ('train', 'compare', 'predict', 'preprocess', 'launch', 'export', 'explain', 'runs'):
        r = subprocess.run([sys.executable, '-c', code.format(command)], capture_output=True,
                           text=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT}, timeout=60)
        assert r.returncode == 0, (command, r.stderr[-500:])
        assert 'usage:' in r.stdout, command
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.compare', '--help'], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT}, timeout=60)
    assert '--model all --seeds 0,1,2' in ' '.join(r.stdout.split())
