"""Files read as they are: a UTF-8 byte order mark is not data, a file's compression is its bytes'
(never its name's), and a separator mistake gets a hint that names the other layout (a
--format only where the command has one)."""
import gzip
import os
import shutil

from d2l_deepfm.cli import predict_command as predict, train_command as train
from d2l_deepfm.data import CTRDataset
from d2l_deepfm.datasets import synthetic
from d2l_deepfm.inputs import reader as formats
from d2l_deepfm.inputs.checks import is_header
from d2l_deepfm.inputs.text import read_bytes, stream_blocks
from helpers import assert_one_error_line, call_main

import pytest


@pytest.fixture(scope='module')
def ctr(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('ctr3'))
    synthetic.make_dataset(folder, num_train=1200, num_test=300, seed=7)
    return folder


def lines(path):
    return open(path).read().splitlines()


def test_a_byte_order_mark_is_not_data(ctr, tmp_path):
    rows = lines(os.path.join(ctr, 'train.csv'))
    header = '\t'.join(['label'] + [f'f{i}' for i in range(1, 35)])
    plain = CTRDataset(os.path.join(ctr, 'train.csv'))
    for name, text in (('header.csv', [header] + rows), ('rows.csv', rows)):
        path = tmp_path / name
        path.write_text('\n'.join(text) + '\n', encoding='utf-8-sig')
        data = CTRDataset(str(path))                      # the chapter's reader
        assert len(data) == len(plain) and (data.labels == plain.labels).all()
        assert (data.features == plain.features).all()
    assert is_header('\ufefflabel\tf1') and read_bytes(str(tmp_path / 'rows.csv'))[:1] in (b'0', b'1')
    assert next(stream_blocks(str(tmp_path / 'header.csv'), 1 << 16))[1].startswith(b'label')
    csv = tmp_path / 'table.csv'
    csv.write_text('\n'.join(['click,a,b'] + [f'{i % 2},a{i % 5},b{i % 3}' for i in range(200)]) + '\n',
                   encoding='utf-8-sig')
    labels, tokens, _ = formats.read_rows(str(csv), 'csv')
    assert len(labels) == 200 and tokens.shape[1] == 2


def test_a_plain_file_named_gz_is_read_as_the_text_it_is(ctr, tmp_path, capsys):
    for part in ('train', 'test'):
        shutil.copy(os.path.join(ctr, f'{part}.csv'), tmp_path / f'{part}.csv.gz')
    (tmp_path / 'real.gz').write_bytes(gzip.compress(open(os.path.join(ctr, 'test.csv'), 'rb').read()))
    code, _, err = call_main(train.main, ['--protocol', 'chapter', '--train', tmp_path / 'train.csv.gz',
                                          '--test', tmp_path / 'real.gz', '--model', 'fm',
                                          '--epochs', '1', '--num-factors', '4', '--no-progress',
                                          '--out', tmp_path / 'run'], capsys)
    assert code == 0, err
    half = gzip.compress(open(os.path.join(ctr, 'test.csv'), 'rb').read())
    (tmp_path / 'cut.gz').write_bytes(half[:len(half) // 2])
    code, _, err = call_main(predict.main, ['--model-dir', tmp_path / 'run', '--input', tmp_path / 'cut.gz'],
                             capsys)
    assert_one_error_line(code, err, str(tmp_path / 'cut.gz'))          # names the file


def test_separator_hints_name_the_other_layout(ctr, tmp_path, capsys):
    from d2l_deepfm.datasets.criteo_synthetic import write_criteo
    write_criteo(str(tmp_path / 'c.txt'), 400, seed=0)
    comma = tmp_path / 'c.csv'
    comma.write_text(open(tmp_path / 'c.txt').read().replace('\t', ','))
    code, _, err = call_main(train.main, ['--protocol', 'chapter', '--train', comma, '--test', comma,
                                          '--model', 'fm', '--epochs', '1', '--out', tmp_path / 'r'],
                             capsys)
    assert_one_error_line(code, err, '40 comma-separated ones: --format criteo?')
    # predict has no --format: its hint names the model's layout instead
    run = str(tmp_path / 'run')
    header = ','.join(['click'] + [f'f{i}' for i in range(1, 35)])
    table = tmp_path / 't.csv'
    table.write_text('\n'.join([header] + [r.replace('\t', ',') for r in lines(os.path.join(ctr, 'train.csv'))]) + '\n')
    assert train.main(['--protocol', 'chapter', '--format', 'csv', '--train', str(table), '--test-fraction', '0.2',
                       '--model', 'fm', '--epochs', '1', '--num-factors', '4', '--no-progress',
                       '--out', run]) == 0
    tabbed = tmp_path / 'tabbed.tsv'
    tabbed.write_text('\n'.join([header.replace(',', '\t')] + lines(os.path.join(ctr, 'test.csv'))) + '\n')
    code, _, err = call_main(predict.main, ['--model-dir', run, '--input', tabbed], capsys)
    line = assert_one_error_line(code, err, 'tab-separated')
    assert '--format' not in line and 'the model was trained on' in line
