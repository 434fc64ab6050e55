"""Every flag of every command is exercised by a test that checks its effect; the train command's
options, declared once (experiment/flags.py), drive the tests of their ranges and choices.

`test_every_flag_is_mentioned_by_a_test_of_its_command` fails when a command gains a flag that no
test of that command mentions; the other tests here check the effects of flags that had none.
"""
import dataclasses
import glob
import json
import os
import re
import sys

import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm.cli import launch_command as launch, predict_command as predict, preprocess_command as preprocess, train_command as train
from d2l_deepfm.data import CTRDataset
from d2l_deepfm.errors import ConfigError, DataError
from d2l_deepfm.experiment.config import (DataConfig, ModelConfig, OutputConfig, RunConfig,
                                          TrainConfig)
from d2l_deepfm.experiment.flags import OPTIONS, check_value, config_parts, default_of
from d2l_deepfm.experiment.protocol import CHAPTER, PROTOCOLS, RULES
from helpers import ROOT, assert_one_error_line, call_main

# compare is train's parser with other defaults (--model all --seeds 0,1,2: test_compare, test_config)
COMMANDS = {'train': train, 'predict': predict, 'preprocess': preprocess, 'launch': launch}


def flags(module):
    """Each action of the command's parser: its option strings (--help aside)."""
    return [a.option_strings for a in module.build_parser()._actions
            if a.option_strings and '--help' not in a.option_strings]


def test_every_flag_is_mentioned_by_a_test_of_its_command():
    sources = {path: open(path).read() for path in glob.glob(os.path.join(ROOT, 'tests', '**', '*.py'), recursive=True)}
    missing = []
    for command, module in COMMANDS.items():
        uses = re.compile(rf'(d2l_deepfm\.{command}\b|\b{command}_command\b)')
        texts = [text for text in sources.values() if uses.search(text)]
        for options in flags(module):
            if not any(re.search(rf"['\"]{re.escape(o)}['\"]", t) for o in options for t in texts):
                missing.append(f'{command} {"/".join(options)}')
    assert not missing, f'flags no test of their command mentions: {missing}'


# --- the one declaration (experiment/flags.py) drives the parser, the config and the checks -------

def outside_and_inside(o):
    """(values out of the option's range, a value in it)."""
    step = 1 if o.kind == 'int' else 0.5
    out = [o.low if not o.low_in else o.low - step] if o.low is not None else []
    out += [o.high] if o.high is not None else []
    inside = o.low if o.low_in else (o.low + (o.high if o.high is not None else 2 * step)) / 2
    return out, inside


RANGED = [o for o in OPTIONS if o.low is not None or o.high is not None]
CHOICES = [o for o in OPTIONS if o.choices]


def test_the_config_parts_are_the_declared_options():
    """Every declared field is a config field with the declared default, and nothing else is."""
    for part, kind in (('data', DataConfig), ('model', ModelConfig), ('train', TrainConfig),
                       ('output', OutputConfig)):
        fields = {f.name: f.default for f in dataclasses.fields(kind)}
        declared = {o.name: default_of(o) for o in OPTIONS if o.field and o.part == part}
        assert fields == declared, part
    parser_flags = {o for options in flags(train) for o in options}
    assert parser_flags == {o.flag for o in OPTIONS}


@pytest.mark.parametrize('option', RANGED, ids=[o.flag for o in RANGED])
def test_a_range_is_checked_alike_on_the_command_line_and_in_a_config(option, capsys):
    bad, good = outside_and_inside(option)
    assert bad
    for value in bad:
        code, _, err = call_main(train.main, [option.flag, value, '--out', 'never'], capsys)
        assert_one_error_line(code, err, option.flag)
        with pytest.raises(ConfigError, match=re.escape(option.flag)):
            check_value(option, value)
        config = RunConfig()
        part = dataclasses.replace(getattr(config, option.part), **{option.name: value})
        with pytest.raises(ConfigError, match=re.escape(option.flag)):
            config.replace(**{option.part: part}).check()
    parsed = train.build_parser().parse_args([option.flag, str(good)])
    assert getattr(parsed, option.dest) == good
    assert config_parts(parsed)[option.part][option.name] == good
    check_value(option, good)


@pytest.mark.parametrize('option', CHOICES, ids=[o.flag for o in CHOICES])
def test_choices_are_checked_alike_on_the_command_line_and_in_a_config(option, capsys):
    code, _, err = call_main(train.main, [option.flag, 'nope', '--out', 'never'], capsys)
    assert_one_error_line(code, err, option.flag)
    with pytest.raises(ConfigError, match=f'{re.escape(option.flag)} .nope.: expected one of'):
        check_value(option, 'nope')
    for value in option.choices:
        check_value(option, value)
        assert getattr(train.build_parser().parse_args([option.flag, value]), option.dest) == value


def test_protocol_defaults_show_in_the_help_from_protocol_py():
    text = ' '.join(train.build_parser().format_help().split())
    for name in ('batch_size', 'epochs'):
        values = [RULES[name] if PROTOCOLS[p][name] is None else PROTOCOLS[p][name]
                  for p in ('default', 'chapter')]     # a rule (the batch) reads as its words
        assert f'(default protocol: {values[0]}; chapter: {values[1]})' in text
    assert f"chapter: FM {CHAPTER['fm']['lr']}, DeepFM {CHAPTER['deepfm']['lr']})" in text


def test_devices_are_checked_once_whoever_gives_them(capsys):
    assert RunConfig(train=TrainConfig(devices=['cpu', 'cpu:1'])).check()      # 'cpu' is cpu:0
    for names in (['cpu:0', 'cpu:0'], ['cpu', 'cpu:0'], ['tpu:0'], ['gpu:x'], []):
        with pytest.raises(ConfigError, match='--devices'):
            RunConfig(train=TrainConfig(devices=names)).check()
        code, _, err = call_main(train.main, ['--devices', ','.join(names) or ',', '--out', 'n'], capsys)
        assert_one_error_line(code, err, 'devices')
    assert train.build_parser().parse_args(['--devices', 'cpu,gpu:1']).devices == ['cpu:0', 'gpu:1']


def test_preprocess_shares_trains_declared_options():
    """--format, --label, --drop, --numeric, --min-threshold, --hash-buckets: one declaration,
    the same help and the same checks in both commands."""
    actions = {cmd: {a.option_strings[0]: a for a in m.build_parser()._actions if a.option_strings}
               for cmd, m in (('train', train), ('preprocess', preprocess))}
    shared = set(actions['train']) & set(actions['preprocess']) - {'-h', '--debug', '--test',
                                                                   '--valid', '--out'}
    assert shared == {'--format', '--label', '--drop', '--numeric', '--min-threshold',
                      '--hash-buckets'}
    for flag in shared:
        a, b = actions['train'][flag], actions['preprocess'][flag]
        assert (a.help, a.choices, a.default, a.metavar) == (b.help, b.choices, b.default, b.metavar)
        assert getattr(a.type, '__qualname__', None) == getattr(b.type, '__qualname__', None), flag
    for argv in (['--min-threshold', '0'], ['--hash-buckets', '-1'], ['--format', 'xml']):
        for module in (train, preprocess):
            with pytest.raises(SystemExit):
                module.build_parser().parse_args(argv)


def test_the_options_table_in_the_docs_is_up_to_date():
    sys.path.insert(0, os.path.join(ROOT, 'scripts'))
    import options_table
    with open(options_table.PATH) as f:
        assert f.read() == options_table.document(), 'run python scripts/options_table.py'
    for o in OPTIONS:
        assert f'`{o.flag}' in options_table.document()


# --- train -------------------------------------------------------------------------------------

def run_train(capsys, *argv):
    code = train.main(list(map(str, argv)))
    capsys.readouterr()
    assert code == 0
    return argv[argv.index('--out') + 1]


def test_min_threshold_sets_the_rule(small_ctr, tmp_path, capsys):
    path = os.path.join(small_ctr, 'train.csv')
    for threshold in (1, 4, 10):
        out = run_train(capsys, '--protocol', 'chapter', '--data-dir', small_ctr,
                        '--model', 'lr', '--min-threshold', threshold,
                        '--out', tmp_path / str(threshold), '--no-progress')
        doc = json.loads((tmp_path / str(threshold) / 'feature_map.json').read_text())
        expected = CTRDataset(path, min_threshold=threshold)
        assert doc['min_threshold'] == threshold and doc['field_dims'] == expected.field_dims.tolist()
        metrics = json.loads(open(os.path.join(out, 'metrics.json')).read())
        assert metrics['data']['num_features'] == int(expected.field_dims.sum())


def test_loss_chapter_from_the_command_line(small_ctr, tmp_path, capsys):
    """--loss chapter trains with the double sigmoid and says so in metrics.json."""
    docs = {}
    for loss in ('fixed', 'chapter'):
        out = run_train(capsys, '--protocol', 'chapter', '--data-dir', small_ctr,
                        '--model', 'fm', '--epochs', 3, '--loss', loss,
                        '--out', tmp_path / loss, '--no-progress')
        docs[loss] = json.loads(open(os.path.join(out, 'metrics.json')).read())
        assert docs[loss]['loss'] == loss
    rate = CTRDataset(os.path.join(small_ctr, 'train.csv')).labels.mean()
    floor = rate * onp.log1p(onp.exp(-1)) + (1 - rate) * onp.log(2)      # see test_training
    chapter, fixed = (docs[k]['fm']['epochs'] for k in ('chapter', 'fixed'))
    assert min(r['train_loss'] for r in chapter) > floor > fixed[-1]['train_loss']


def test_wd_embedding_from_the_command_line(small_ctr, tmp_path, capsys):
    norms = {}
    for name, extra in (('plain', []), ('penalized', ['--wd-embedding', '0.05'])):
        out = run_train(capsys, '--protocol', 'chapter', '--data-dir', small_ctr,
                        '--model', 'fm', '--epochs', 2, *extra,
                        '--out', tmp_path / name, '--no-progress')
        config = json.loads(open(os.path.join(out, 'metrics.json')).read())['fm']['config']
        assert config.get('wd_embedding') == (0.05 if extra else None)
        params = mx.nd.load(os.path.join(out, 'fm.params'))
        norms[name] = float((params['embedding.weight'].asnumpy() ** 2).sum())
    assert norms['penalized'] < 0.5 * norms['plain']


def test_results_file(small_ctr, tmp_path, capsys):
    results = tmp_path / 'elsewhere' / 'all.csv'
    for name in ('a', 'b'):
        run_train(capsys, '--data-dir', small_ctr, '--model', 'lr', '--results', results,
                  '--out', tmp_path / name, '--no-progress')
    lines = results.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith('run,date,')        # a header, then one per run
    assert not (tmp_path / 'results.csv').exists()


@pytest.mark.parametrize('command', ['train', 'predict', 'preprocess'])
def test_debug_shows_the_traceback(tmp_path, capsys, command):
    """Without --debug a mistake is one error line; with it, the exception itself."""
    argv = {'train': ['--data-dir', tmp_path / 'nope', '--out', tmp_path / 'o'],
            'predict': ['--model-dir', tmp_path / 'nope', '--input', tmp_path / 'x'],
            'preprocess': ['--input', tmp_path / 'nope.txt', '--out', tmp_path / 's']}[command]
    main = COMMANDS[command].main
    assert main(list(map(str, argv))) == 2
    with pytest.raises(DataError):
        main(list(map(str, argv)) + ['--debug'])


# --- predict -----------------------------------------------------------------------------------

def test_predict_reports_auc_logloss_and_accuracy_of_its_output(trained_run, small_ctr, capsys):
    from sklearn.metrics import log_loss, roc_auc_score
    test_csv = os.path.join(small_ctr, 'test.csv')
    code, out, err = call_main(predict.main, ['--model-dir', trained_run, '--input', test_csv,
                                              '--model', 'fm', '--devices', 'cpu:0'], capsys)
    assert code == 0, err
    p = onp.array([float(x) for x in out.split()])
    labels = onp.array([int(line[0]) for line in open(test_csv)])
    words = err.split()
    reported = {k: float(words[words.index(k) + 1].strip(',;')) for k in ('AUC', 'logloss', 'acc')}
    assert reported['AUC'] == pytest.approx(roc_auc_score(labels, p), abs=1e-4)
    assert reported['logloss'] == pytest.approx(log_loss(labels, p), abs=1e-4)
    assert reported['acc'] == pytest.approx(((p > 0.5) == labels).mean(), abs=1e-4)
    assert 0 < (p > 0.5).sum() < len(p)                   # both answers: the threshold matters
    # --devices: a device this machine does not have is one error line
    assert_one_error_line(*call_main(predict.main, ['--model-dir', trained_run, '--input', test_csv,
                                                    '--devices', 'gpu:7'], capsys)[::2], 'gpu:7')


# --- preprocess --------------------------------------------------------------------------------

def test_preprocess_min_threshold_and_test_file(small_ctr, tmp_path, capsys):
    path, test_path = os.path.join(small_ctr, 'train.csv'), os.path.join(small_ctr, 'test.csv')
    for threshold in (1, 6):
        out = tmp_path / str(threshold)
        code, _, err = call_main(preprocess.main, ['--input', path, '--test', test_path, '--out', out,
                                                   '--min-threshold', threshold, '--workers', 1], capsys)
        assert code == 0, err
        doc = json.loads((out / 'feature_map.json').read_text())
        train_set = CTRDataset(path, min_threshold=threshold)
        assert doc['field_dims'] == train_set.field_dims.tolist()
        test_set = CTRDataset(test_path, train_set.feat_mapper, train_set.defaults)
        onp.testing.assert_array_equal(onp.load(out / 'test.features.npy'), test_set.features)


# --- launch ------------------------------------------------------------------------------------

def test_launch_over_ssh_with_root_uri_and_interface(tmp_path):
    """--hosts through a stand-in `ssh` that runs the remote command line here: every process
    gets the roles, counts, --root-uri, --interface and --env asked for."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'ssh').write_text('#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n')
    (bin_dir / 'ssh').chmod(0o755)
    (tmp_path / 'hosts').write_text('node-a\nnode-b:2222\n')
    log = tmp_path / 'roles.txt'
    show = f'echo "$DMLC_ROLE $DMLC_NUM_WORKER $DMLC_NUM_SERVER $DMLC_PS_ROOT_URI $DMLC_INTERFACE $X" >> {log}'
    import subprocess
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.launch', '--num-workers', '3', '--num-servers', '2',
                        '--hosts', str(tmp_path / 'hosts'), '--root-uri', '127.0.0.1', '--interface', 'lo',
                        '--env', 'X=seen', '--timeout', '60', '--', 'sh', '-c', show],
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, 'PYTHONPATH': ROOT,
                            'PATH': f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    lines = sorted(log.read_text().split('\n')[:-1])
    assert lines == sorted(['scheduler 3 2 127.0.0.1 lo seen'] + ['server 3 2 127.0.0.1 lo seen'] * 2
                           + ['worker 3 2 127.0.0.1 lo seen'] * 3), lines


def test_preprocess_label_drop_and_numeric(tmp_path, capsys):
    """--label names the label column, --drop removes a column, --numeric bins one (criteo's
    rule: small integers kept, larger ones by their log), the rest are categorical fields."""
    rng = onp.random.default_rng(0)
    clicks, a, n = rng.integers(0, 2, 300), rng.choice(['x', 'y', 'z'], 300), rng.integers(0, 500, 300)
    lines = ['id,click,a,n'] + [f'{1000 + i},{clicks[i]},{a[i]},{n[i]}' for i in range(300)]
    src = tmp_path / 'own.csv'
    src.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'store'
    code, _, err = call_main(preprocess.main, ['--format', 'csv', '--input', src, '--out', out,
                                               '--label', 'click', '--drop', 'id', '--numeric', 'n',
                                               '--min-threshold', 1, '--workers', 1], capsys)
    assert code == 0, err
    doc = json.loads((out / 'feature_map.json').read_text())
    layout = doc['layout']
    assert (layout['label'], layout['drop'], layout['numeric'], layout['categorical']) == \
        ('click', ['id'], ['n'], ['a'])
    assert doc['num_feat'] == 2 and set(doc['feat_mapper']['1']) == {'x', 'y', 'z'}
    assert len(doc['feat_mapper']['2']) < len(set(n.tolist())) / 3        # binned, not the raw values
    onp.testing.assert_array_equal(onp.load(out / 'train.labels.npy'), clicks)
