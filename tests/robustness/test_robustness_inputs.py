"""Nothing silently wrong: every JSON file the package reads, damaged in every way, is refused
with one line (exit 2); predictions stay aligned with their rows (a header is only what a
header is) and never overwrite their input; every bad option is one line."""
import json
import os
import shutil

import pytest

from d2l_deepfm.cli import compare_command as compare, launch_command as launch, predict_command as predict, train_command as train
from d2l_deepfm.cli import preprocess_command as preprocess_cli
from d2l_deepfm.errors import ConfigError
from d2l_deepfm.experiment import memory
from d2l_deepfm.files import write_text
from d2l_deepfm.inputs.checks import is_header

from robust_helpers import ARGS, one_error_line, reseal
from test_robustness import finished, tiny  # noqa: F401  (the module's fixtures)


def call(main, argv, capsys):
    """(exit status, stdout, stderr) of a command's main in this process."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:                    # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# --- damaged JSON -----------------------------------------------------------------------------

def delete(key):
    return lambda doc: {k: v for k, v in doc.items() if k != key}


def put(key, value):
    return lambda doc: {**doc, key: value}


# file -> (a key a reader needs, a key and a value of the wrong kind)
DAMAGE = {'metrics.json': (delete('fm'), put('fm', {'config': 'x'})),
          'feature_map.json': (delete('defaults'), put('feat_mapper', [1, 2])),
          'manifest.json': (delete('files'), put('files', 'x')),
          'config.json': (delete('model'), put('train', {'epochs': 'x'})),
          'checkpoints/run.json': (delete('status'), put('settings', 'x')),
          'checkpoints/fm.json': (delete('history'), put('epoch', 'x')),
          'store.json': (delete('splits'), put('splits', {'train': 5}))}
KINDS = ('truncated', 'not-json', 'a-list', 'empty', 'missing-key', 'wrong-type')


def damage(path, kind):
    text = open(path).read()
    missing, wrong = DAMAGE[os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
                            if 'checkpoints' in path else os.path.basename(path)]
    new = {'truncated': lambda: text[:len(text) // 2], 'not-json': lambda: 'not json {',
           'a-list': lambda: '[1, 2]', 'empty': lambda: '',
           'missing-key': lambda: json.dumps(missing(json.loads(text))),
           'wrong-type': lambda: json.dumps(wrong(json.loads(text)))}[kind]()
    write_text(path, new)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('name,resealed', [('metrics.json', False), ('metrics.json', True),
                                           ('feature_map.json', False), ('feature_map.json', True),
                                           ('manifest.json', False)])
def test_a_damaged_run_folder_is_refused_by_predict(name, resealed, kind, finished, tiny,  # noqa: F811
                                                    tmp_path, capsys):
    """Damaged after the run (the manifest no longer matches), or written that way (resealed:
    the manifest matches, the reader's own checks refuse it)."""
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    damage(os.path.join(out, name), kind)
    if resealed:
        reseal(out, name)
    code, _, err = call(predict.main, ['--model-dir', out, '--input',
                                       os.path.join(tiny, 'rows.tsv')], capsys)
    assert code == 2 and one_error_line(err) and out in err, err


@pytest.mark.parametrize('kind', KINDS)
def test_a_damaged_config_is_refused(kind, finished, tmp_path, capsys):  # noqa: F811
    config = str(tmp_path / 'config.json')
    shutil.copy(os.path.join(finished, 'config.json'), config)
    damage(config, kind)
    code, _, err = call(train.main, ['--config', config, '--out', str(tmp_path / 'o')], capsys)
    assert code == 2 and one_error_line(err) and config in err, err


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('name', ['checkpoints/run.json', 'checkpoints/fm.json'])
def test_a_damaged_checkpoint_is_refused_by_resume(name, kind, finished, tiny, tmp_path,  # noqa: F811
                                                   capsys):
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    damage(os.path.join(out, name), kind)
    code, _, err = call(train.main, ['--data-dir', tiny, *ARGS, '--out', out, '--resume'], capsys)
    assert code == 2 and one_error_line(err) and name.split('/')[1] in err, err


@pytest.fixture(scope='module')
def store(tiny, tmp_path_factory):  # noqa: F811
    out = str(tmp_path_factory.mktemp('store') / 's')
    assert preprocess_cli.main(['--input', os.path.join(tiny, 'train.csv'), '--test',
                                os.path.join(tiny, 'test.csv'), '--out', out, '--workers', '1']) == 0
    return out


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('name,resealed', [('store.json', False), ('store.json', True),
                                           ('feature_map.json', False), ('feature_map.json', True),
                                           ('manifest.json', False)])
def test_a_damaged_store_is_refused_by_train(name, resealed, kind, store, tmp_path, capsys):
    folder = str(tmp_path / 'store')
    shutil.copytree(store, folder)
    damage(os.path.join(folder, name), kind)
    if resealed:
        reseal(folder, name)
    code, _, err = call(train.main, ['--data-store', folder, *ARGS, '--out',
                                     str(tmp_path / 'o')], capsys)
    assert code == 2 and one_error_line(err) and folder in err, err


def test_a_store_array_from_another_store_is_refused(store, tiny, tmp_path, capsys):  # noqa: F811
    """The same number of rows, other indices: the mix the manifest exists to catch."""
    other = str(tmp_path / 'other')
    assert preprocess_cli.main(['--input', os.path.join(tiny, 'train.csv'), '--test',
                                os.path.join(tiny, 'test.csv'), '--out', other, '--workers', '1',
                                '--min-threshold', '1']) == 0
    folder = str(tmp_path / 'store')
    shutil.copytree(store, folder)
    shutil.copy(os.path.join(other, 'train.features.npy'), folder)
    code, _, err = call(train.main, ['--data-store', folder, *ARGS, '--out',
                                     str(tmp_path / 'o')], capsys)
    assert code == 2 and one_error_line(err) and 'train.features.npy' in err, err


# --- predictions aligned with their rows ------------------------------------------------------

def test_header_rule():
    hashes = '\t'.join(['fb015c22', '1', '05db9164', ''])
    assert not is_header(hashes, labeled=False) and not is_header(hashes)
    assert not is_header('deadbeef\t0\t1') and not is_header('1\tx\ty') and not is_header('yes\ta')
    assert is_header('label\tI1\tC1') and is_header('Click\tfb015c22')
    assert is_header('I1\tI2\tC1\tsite_id', labeled=False)
    assert not is_header('site_x\tfb015c22\t3', labeled=False)


def test_unlabeled_rows_starting_with_a_word_are_all_scored(finished, tiny, tmp_path,  # noqa: F811
                                                           capsys):
    """200 rows in, 200 probabilities out, each that of its row (as with the labels)."""
    rows = [line.split('\t') for line in open(os.path.join(tiny, 'test.csv')).read().splitlines()[:200]]
    labeled, unlabeled = tmp_path / 'labeled.tsv', tmp_path / 'unlabeled.tsv'
    for first in ('fb015c22', 'abcdefgh'):   # a hashed value, a word: data, not a header
        rows[0][1] = first
        labeled.write_text(''.join('\t'.join(r) + '\n' for r in rows))
        unlabeled.write_text(''.join('\t'.join(r[1:]) + '\n' for r in rows))
        scores = {}
        for path in (labeled, unlabeled):
            code, out, err = call(predict.main, ['--model-dir', finished, '--input', str(path)],
                                  capsys)
            assert code == 0, err
            scores[path] = [float(x) for x in out.split()]
        assert len(scores[unlabeled]) == 200 and scores[unlabeled] == scores[labeled]
    named = tmp_path / 'named.tsv'                # a header of column names: not a row
    named.write_text('\t'.join(f'f{i}' for i in range(1, 35)) + '\n' + unlabeled.read_text())
    code, out, err = call(predict.main, ['--model-dir', finished, '--input', str(named)], capsys)
    assert code == 0 and [float(x) for x in out.split()] == scores[labeled], err


def test_predict_never_writes_onto_its_input(finished, tiny, tmp_path, capsys):  # noqa: F811
    rows = tmp_path / 'rows.tsv'
    shutil.copy(os.path.join(tiny, 'rows.tsv'), rows)
    before = rows.read_bytes()
    os.link(rows, tmp_path / 'link.tsv')
    os.symlink(rows, tmp_path / 'sym.tsv')
    for output in (rows, tmp_path / '.' / 'rows.tsv', tmp_path / 'link.tsv', tmp_path / 'sym.tsv'):
        code, _, err = call(predict.main, ['--model-dir', finished, '--input', str(rows),
                                           '--output', str(output)], capsys)
        assert code == 2 and one_error_line(err) and 'is the --input file' in err, err
    assert rows.read_bytes() == before


# --- options ----------------------------------------------------------------------------------

BAD_OPTIONS = [
    (train.main, ['--devices', 'cpu:0,cpu:0']), (train.main, ['--seed', '-5']),
    (train.main, ['--dropout', '1.5']), (train.main, ['--dropout', '-0.5']),
    (train.main, ['--lr', 'nan']), (train.main, ['--lr', 'inf']), (train.main, ['--epochs', '0']),
    (train.main, ['--batch-size', '1e3']), (train.main, ['--seeds', '1,1']),
    (train.main, ['--mlp-dims', '8,-1']), (train.main, ['--wd', '-1']),
    (train.main, ['--valid-fraction', '1']), (train.main, ['--block-rows', 'nan']),
    (train.main, ['--min-threshold', '0']), (train.main, ['--patience', '0']),
    (compare.main, ['--seeds', '0,0']), (compare.main, ['--num-factors', '-1']),
    (predict.main, ['--model-dir', 'x', '--input', 'y', '--devices', 'gpu:x']),
    (preprocess_cli.main, ['--input', 'x', '--out', 'y', '--block-mb', 'nan']),
    (preprocess_cli.main, ['--input', 'x', '--out', 'y', '--block-mb', '1e9']),
    (preprocess_cli.main, ['--input', 'x', '--out', 'y', '--workers', '1000']),
    (preprocess_cli.main, ['--input', 'x', '--out', 'y', '--min-threshold', '-1']),
    (launch.main, ['-n', '1', '--timeout', 'nan', '--', 'true']),
    (launch.main, ['-n', '0', '--', 'true'])]


@pytest.mark.parametrize('main,argv', BAD_OPTIONS,
                         ids=[f'{m.__module__.split(".")[-1]} {" ".join(a)}' for m, a in BAD_OPTIONS])
def test_a_bad_option_is_one_line(main, argv, capsys):
    code, _, err = call(main, argv, capsys)
    assert code == 2 and one_error_line(err), err


def test_a_model_too_large_is_explained_before_allocating(tiny, tmp_path, capsys):  # noqa: F811
    """Over MXNet's tensor size (--num-factors 100000000 on 1,225 features): one line, before
    any allocation; and the memory estimate refuses what the free memory cannot hold."""
    code, _, err = call(train.main, ['--data-dir', tiny, *ARGS, '--num-factors', '100000000',
                                     '--out', str(tmp_path / 'o')], capsys)
    assert code == 2 and one_error_line(err) and '--num-factors' in err, err
    import mxnet as mx
    free, _ = memory.available_bytes([mx.cpu()])
    features = 2 * free // memory.model_bytes(1, {'num_factors': 1}) + 1     # twice the RAM
    with pytest.raises(ConfigError, match='GiB free'):
        memory.check_fits('fm', features, {'num_factors': 1}, [mx.cpu()])
    memory.check_fits('fm', 1225, {'num_factors': 4}, [mx.cpu()])           # a small one fits
    assert memory.explain(MemoryError()) and memory.explain(ValueError('x')) is None


def test_a_run_and_a_store_never_overwrite_each_other(store, finished, tiny, tmp_path,  # noqa: F811
                                                      capsys):
    folder, out = str(tmp_path / 'store'), str(tmp_path / 'run')
    shutil.copytree(store, folder)
    shutil.copytree(finished, out)
    before = {f: open(os.path.join(folder, f), 'rb').read() for f in os.listdir(folder)
              if not f.startswith('.')}
    code, _, err = call(train.main, ['--data-store', folder, *ARGS, '--out', folder], capsys)
    assert code == 2 and one_error_line(err) and 'holds a store' in err, err
    code, _, err = call(preprocess_cli.main, ['--input', os.path.join(tiny, 'train.csv'),
                                              '--out', out], capsys)
    assert code == 2 and one_error_line(err) and 'holds a training run' in err, err
    assert {f: open(os.path.join(folder, f), 'rb').read() for f in os.listdir(folder)
            if not f.startswith('.')} == before
    # predict's output never replaces a file of the run it scores with
    code, _, err = call(predict.main, ['--model-dir', out, '--input', os.path.join(tiny, 'rows.tsv'),
                                       '--output', os.path.join(out, 'metrics.json')], capsys)
    assert code == 2 and one_error_line(err) and 'a file of the run' in err, err
    # a results CSV that cannot be written is found before training, not after
    code, _, err = call(train.main, ['--data-dir', tiny, *ARGS, '--out', str(tmp_path / 'o'),
                                     '--results', str(tmp_path)], capsys)
    assert code == 2 and one_error_line(err) and '--results' in err, err
    assert not os.path.exists(tmp_path / 'o' / 'metrics.json')
