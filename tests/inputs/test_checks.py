"""Bad input: a corpus of broken files, each answered with one `error:` line and a non-zero exit.

Every case runs the command line's main() on generated files; a few also run as real processes
(with a time limit, so that a hang fails the test instead of stalling the suite).
"""
import gzip
import os
import subprocess
import sys

import pytest

from d2l_deepfm.inputs import criteo
from d2l_deepfm.datasets import synthetic
from d2l_deepfm.data import CTRDataset
from d2l_deepfm.errors import DataError
from d2l_deepfm.inputs.d2l_layout import read_ctr
from d2l_deepfm.inputs.checks import first_malformed_line, is_header
from helpers import ROOT, assert_one_error_line

HEADER = '\t'.join(['label'] + [f'f{i}' for i in range(1, 35)])


def good_lines(n=200, seed=1):
    """n rows in the chapter's layout (both classes), as text lines."""
    labels, values = synthetic.generate(n, seed=seed)
    return ['\t'.join([str(y)] + [synthetic.token(f + 1, v) for f, v in enumerate(row)])
            for y, row in zip(labels, values)]


def with_label(line, label):
    return label + line[line.index('\t'):]


def write(path, content):
    mode = 'wb' if isinstance(content, bytes) else 'w'
    with open(path, mode, **({} if mode == 'wb' else {'newline': ''})) as f:
        f.write(content)


def text(lines, newline='\n'):
    return newline.join(lines) + newline


# Each case: (id, train.csv content or None, test.csv content or None, extra options, expected
# words in the error line). None: a good file (or, for the data dir itself, see `setup`).
LINES = good_lines()
CASES = [
    ('missing-data-dir', 'MISSING', None, [], 'no such directory'),
    ('missing-test-file', None, 'MISSING', [], 'needs train.csv and test.csv'),
    ('empty-train', '', None, [], 'train.csv: the file is empty'),
    ('only-blank-lines', '\n\n\r\n', None, [], 'only blank lines'),
    ('only-a-header', text([HEADER]), None, [], 'no row has the expected 35'),
    ('wrong-layout-criteo-rows', text(['1' + '\t5' * 39] * 20), None, [], 'no row has the expected 35'),
    ('label-yes', text(LINES[:2] + [with_label(LINES[2], 'yes')] + LINES[3:]), None, [],
     'train.csv, line 3: label \'yes\' is not 0 or 1'),
    ('label-2-in-test', None, text(LINES[:4] + [with_label(LINES[4], '2')] + LINES[5:]), [],
     'test.csv, line 5: label \'2\''),
    ('label-2-after-header-and-bad-row', text([HEADER, '1\tshort'] + LINES[:3] + [with_label(LINES[3], '2')]),
     None, [], 'line 6: label \'2\''),
    ('label-empty', text([with_label(LINES[0], '')] + LINES[1:]), None, [], "line 1: label '' is not 0 or 1"),
    ('label-nan', text([with_label(LINES[0], 'nan')] + LINES[1:]), None, [], "label 'nan' is not 0 or 1"),
    ('label-minus-1-crlf', text(LINES[:6] + [with_label(LINES[6], '-1')], '\r\n'), None, [], 'line 7'),
    ('binary-garbage', bytes(range(256)) * 64, None, [], 'line 1: binary data'),
    ('nul-byte-on-line-4', text(LINES[:3] + [LINES[3][:20] + '\0' + LINES[3][20:]] + LINES[4:]), None, [],
     'line 4: binary data'),
    ('latin-1-on-line-5', '\n'.join(LINES[:4]).encode() + '\nd\u00e9j\u00e0\t'.encode('latin-1')
     + LINES[4].encode(), None, [], 'line 5: not UTF-8'),
    # a gzip'd file is read (see test_gzip_is_read_like_the_plain_file); other archives are not
    ('zip-archive', b'PK\x03\x04' + bytes(200), None, [], 'a zip archive'),
    ('damaged-gzip', gzip.compress(text(LINES).encode())[:300], None, [], 'a damaged or truncated gzip file'),
    ('one-class-training', text([with_label(l, '0') for l in LINES]), None, [], 'AUC is undefined'),
    ('strict-malformed-row', text(LINES[:6] + ['1\ttoo\tshort'] + LINES[6:]), None, ['--strict'],
     'line 7: 3 tab-separated fields, expected 35'),
    ('out-is-a-file', None, None, ['--out', 'FILE'], 'a-file'),
    ('gpu-that-does-not-exist', None, None, ['--devices', 'gpu:7'], 'no gpu:7'),
]


def setup(folder, train, test, extra):
    """Write one case's data folder; return the command line."""
    data = os.path.join(folder, 'data')
    os.makedirs(data, exist_ok=True)
    for name, content in (('train.csv', train), ('test.csv', test)):
        if content == 'MISSING':
            continue
        write(os.path.join(data, name), text(LINES) if content is None else content)
    if train == 'MISSING':
        data = os.path.join(folder, 'nonexistent')
    out = os.path.join(folder, 'out')
    if 'FILE' in extra:
        write(os.path.join(folder, 'a-file'), 'x')
        extra = [os.path.join(folder, 'a-file') if a == 'FILE' else a for a in extra]
    return [sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-dir', data,
            '--out', out, '--epochs', '1', '--no-progress', *extra]


def run_main(argv, capsys):
    """The command line in this process, exactly as `python -m d2l_deepfm.train` runs it."""
    from d2l_deepfm.cli import train_command as train
    capsys.readouterr()
    try:
        code = train.main(argv[3:])
    except SystemExit as e:                    # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def check_one_error_line(code, out, err, expected):
    assert 'Traceback' not in out
    assert_one_error_line(code, err, expected)


@pytest.mark.parametrize('case,train,test,extra,expected', CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_error_line(tmp_path, capsys, case, train, test, extra, expected):
    # an exception escaping main() (what would print a traceback) fails the test
    check_one_error_line(*run_main(setup(str(tmp_path), train, test, extra), capsys), expected)


REAL = ['binary-garbage', 'label-yes', 'one-class-training']


def test_real_processes_exit_with_one_error_line(tmp_path):
    """A few cases as real processes (at once, each with a time limit: a hang fails the test)."""
    env = {**os.environ, 'PYTHONPATH': ROOT}
    procs = {}
    for case, train, test, extra, expected in CASES:
        if case in REAL:
            argv = setup(str(tmp_path / case), train, test, extra)
            procs[case] = (subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True, cwd=ROOT, env=env), expected)
    for case, (proc, expected) in procs.items():
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f'{case}: no answer in 180 s')
        check_one_error_line(proc.returncode, out, err, expected)


# --- what is handled, not rejected -----------------------------------------------------------

def test_header_line_and_crlf_are_handled(tmp_path):
    plain = tmp_path / 'plain.csv'
    write(plain, text(LINES))
    crlf_header = tmp_path / 'crlf_header.csv'
    write(crlf_header, text([HEADER] + LINES, '\r\n'))
    a, b = CTRDataset(str(plain), min_threshold=2), CTRDataset(str(crlf_header), min_threshold=2)
    assert len(b) == len(LINES) and b.skipped == 0
    assert a.feat_mapper == b.feat_mapper
    assert (a.features == b.features).all() and (a.labels == b.labels).all()


def test_gzip_is_read_like_the_plain_file(tmp_path):
    from d2l_deepfm.experiment.splits import load_splits
    write(tmp_path / 'plain.csv', text([HEADER] + LINES))
    write(tmp_path / 'packed.csv', gzip.compress(text([HEADER] + LINES).encode()))
    a, _, _ = load_splits(str(tmp_path / 'plain.csv'), str(tmp_path / 'plain.csv'))
    b, _, _ = load_splits(str(tmp_path / 'packed.csv'), str(tmp_path / 'packed.csv'))
    assert len(b) == len(LINES) and a.feat_mapper == b.feat_mapper and (a.features == b.features).all()


def test_header_with_another_field_count_is_not_a_skipped_row(tmp_path):
    path = tmp_path / 't.csv'
    write(path, text(['label\tfeatures'] + LINES))
    assert CTRDataset(str(path)).skipped == 0


def test_header_detection():
    assert is_header('label\tC1\tC2') and is_header('Click\r\n') and is_header('is_click\tx')
    for not_a_header in ('0\ta', '1\ta', 'nan\ta', 'yes\ta', 'No\ta', '\ta', '-1\ta', '1e3\ta'):
        assert not is_header(not_a_header)


def test_malformed_rows_skipped_counted_and_located(tmp_path):
    lines = LINES[:5] + ['1\tshort'] + LINES[5:9] + [LINES[9] + '\textra'] + LINES[9:]
    path = tmp_path / 't.csv'
    write(path, text([HEADER] + lines))
    ds = CTRDataset(str(path))
    assert len(ds) == len(LINES) and ds.skipped == 2
    assert first_malformed_line(str(path), 35) == (7, 2)          # line 1 is the header


def test_criteo_format_gets_the_same_checks(tmp_path):
    """The checks live in the shared reader, so the raw Criteo reader has them too."""
    row = '\t'.join(['1'] + ['3'] * 13 + ['ab12cd34'] * 26)
    path = tmp_path / 'criteo.txt'
    write(path, text(['label' + '\tI' * 13 + '\tC' * 26, row, with_label(row, 'click!')]))
    with pytest.raises(DataError, match=r'line 3: label .click!. is not 0 or 1'):
        criteo.read_criteo(str(path))
    write(path, b'\x00\x01' * 100)
    with pytest.raises(DataError, match='binary data'):
        criteo.read_criteo(str(path))
    with pytest.raises(DataError, match='is a directory'):
        read_ctr(str(tmp_path))


def test_a_long_first_line_is_skipped_like_any_other(tmp_path):
    """pandas would take a long first line's extra fields for an index and misparse the file."""
    path = tmp_path / 't.csv'
    write(path, text([LINES[0] + '\textra\tfields'] + LINES[1:]))
    ds = CTRDataset(str(path))
    assert len(ds) == len(LINES) - 1 and ds.skipped == 1
    assert ds.labels.tolist() == [float(l[0]) for l in LINES[1:]]
