import json
import os
import subprocess
import sys

import numpy as onp
import pytest

from d2l_deepfm.errors import DataError
from d2l_deepfm.inputs import criteo
from d2l_deepfm.datasets import criteo_synthetic
from d2l_deepfm.store import blocks, build as preprocess
from d2l_deepfm.data import CTRDataset, load_feature_map
from helpers import ROOT, assert_one_error_line



def run_module(module, *args, timeout=300):
    return subprocess.run([sys.executable, '-m', module, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env={**os.environ, 'PYTHONPATH': ROOT})


def load_split(folder, split):
    X = onp.load(os.path.join(folder, f'{split}.features.npy'), mmap_mode='r')
    y = onp.load(os.path.join(folder, f'{split}.labels.npy'), mmap_mode='r')
    return X, y


def assert_same_as(folder, train, test):
    """The store holds exactly what the in-memory CTRDataset maps."""
    for split, ds in (('train', train), ('test', test)):
        X, y = load_split(folder, split)
        assert X.dtype == onp.int32 and X.shape == ds.features.shape
        onp.testing.assert_array_equal(X, ds.features)
        onp.testing.assert_array_equal(y, ds.labels)
    feat_mapper, defaults, doc = load_feature_map(os.path.join(folder, 'feature_map.json'))
    assert feat_mapper == train.feat_mapper and defaults == train.defaults
    assert doc['field_dims'] == [int(d) for d in train.field_dims]


@pytest.mark.parametrize('workers', [1, 2])
def test_d2l_store_equals_ctrdataset(small_ctr, tmp_path, workers):
    train = CTRDataset(os.path.join(small_ctr, 'train.csv'), min_threshold=4)
    test = CTRDataset(os.path.join(small_ctr, 'test.csv'), train.feat_mapper, train.defaults)
    out = tmp_path / 'store'
    report = preprocess.preprocess('d2l', os.path.join(small_ctr, 'train.csv'), str(out),
                                   test_path=os.path.join(small_ctr, 'test.csv'),
                                   block_mb=0.1, workers=workers, log=lambda *a: None)
    assert_same_as(str(out), train, test)
    assert report['splits']['train']['rows'] == 6000 and report['rows_per_sec'] > 0
    assert not [f for f in os.listdir(out) if f.endswith('.part')]


def test_criteo_store_equals_criteo_dataset_with_malformed_rows(tmp_path):
    """Raw Criteo rows, a header line, several blocks, rows with too few and too many fields
    skipped and counted, values counted across block boundaries: same indices as the
    in-memory reader."""
    path = tmp_path / 'train.txt'
    criteo_synthetic.write_criteo(str(path), 3000, seed=1, malformed_every=500)
    with open(path, 'a') as f:
        f.write('\t'.join(['1'] * 41) + '\n\n')          # too many fields, then a blank line
    header = 'label\t' + '\t'.join(f'c{i}' for i in range(39))   # dropped, not counted
    path.write_text(header + '\n' + path.read_text())
    test_path = tmp_path / 'test.txt'
    criteo_synthetic.write_criteo(str(test_path), 700, seed=2)
    train = CTRDataset.from_file(str(path), 'criteo', min_threshold=3)
    test = CTRDataset.from_file(str(test_path), 'criteo', train.feat_mapper, train.defaults)
    assert train.skipped == 7
    out = tmp_path / 'store'
    report = preprocess.preprocess('criteo', str(path), str(out), test_path=str(test_path),
                                   min_threshold=3, block_mb=0.05, workers=1, log=lambda *a: None)
    assert_same_as(str(out), train, test)
    assert report['splits']['train'] == {'input': str(path), 'rows': 3000, 'skipped': 7}
    X, _ = load_split(str(out), 'train')
    assert X.nbytes / X.shape[0] / X.shape[1] == 4                # 4 bytes per field per row


def test_cli_reports_and_bad_input_is_one_line(tmp_path):
    good = tmp_path / 'good.txt'
    criteo_synthetic.write_criteo(str(good), 200, seed=0)
    r = run_module('d2l_deepfm.preprocess', '--format', 'criteo', '--input', good,
                   '--valid', good, '--out', tmp_path / 's')
    assert r.returncode == 0, r.stderr
    assert 'rows/s' in r.stdout and 'skipped rows: train 0, valid 0' in r.stdout
    doc = json.loads((tmp_path / 's' / 'store.json').read_text())
    assert doc['format'] == 'criteo' and doc['splits']['train']['rows'] == 200
    onp.testing.assert_array_equal(*(load_split(str(tmp_path / 's'), k)[0] for k in ('train', 'valid')))

    bad = tmp_path / 'bad.txt'
    lines = good.read_text().splitlines()
    lines[150] = 'x' + lines[150][1:]
    bad.write_text('\n'.join(lines) + '\n')
    for args, message in [
        (['--input', tmp_path / 'missing.txt'], 'no such file'),
        (['--input', bad, '--format', 'criteo'], "line 151: label 'x' is not 0 or 1"),
        (['--input', good, '--format', 'd2l'], 'no row has the expected 35'),
    ]:
        r = run_module('d2l_deepfm.preprocess', *args, '--out', tmp_path / 'o', '--block-mb', '0.01')
        assert_one_error_line(r, expected=message)


def test_peak_memory_does_not_grow_with_rows(tmp_path):
    """4x the rows with the same vocabulary: the peak RSS of preprocessing stays flat."""
    peaks = {}
    for rows in (100_000, 400_000):
        path = tmp_path / f'{rows}.txt'
        criteo_synthetic.write_criteo(str(path), rows, seed=rows)
        r = run_module('d2l_deepfm.preprocess', '--format', 'criteo', '--input', path,
                       '--out', tmp_path / f's{rows}', '--block-mb', 4, '--workers', 1)
        assert r.returncode == 0, r.stderr
        doc = json.loads((tmp_path / f's{rows}' / 'store.json').read_text())
        assert doc['splits']['train']['rows'] == rows
        peaks[rows] = doc['peak_rss_mb']
        os.remove(path)
    assert peaks[400_000] <= 1.3 * peaks[100_000], peaks


def _mixed_file(path, fmt, rows, seed):
    """A file whose blocks take both paths: a token longer than 8 bytes and a label '1.0' in a
    few rows (pandas blocks), non-integer and negative Criteo integers, UTF-8 tokens, \\r\\n
    line ends, malformed and blank lines elsewhere (byte blocks)."""
    if fmt == 'criteo':
        criteo_synthetic.write_criteo(str(path), rows, seed=seed, malformed_every=250)
    else:
        from d2l_deepfm.datasets import synthetic
        labels, values = synthetic.generate(rows, seed=seed)
        synthetic.write_ctr(str(path), labels, values)
    lines = path.read_text().splitlines()
    width = len(lines[0].split('\t'))
    for i in range(0, len(lines), 97):               # values shared by both kinds of block
        fields = lines[i].split('\t')
        if len(fields) == width:
            fields[1], fields[-1] = ('-7', 'ça') if i % 2 else ('x1', 'é')
            lines[i] = '\t'.join(fields)
    for i in (len(lines) // 3, len(lines) // 3 + 1, 2 * len(lines) // 3):
        fields = lines[i].split('\t')
        fields[-2] = 'a_token_longer_than_8_bytes' if i % 2 else fields[-2]
        fields[0] = fields[0] if i % 2 else fields[0] + '.0'
        lines[i] = '\t'.join(fields)
    lines[10:10] = ['', '1\t2\t3']
    path.write_bytes(('\r\n'.join(lines) + '\r\n').encode())


@pytest.mark.parametrize('hash_buckets', [None, 1000])
@pytest.mark.parametrize('fmt', ['criteo', 'd2l'])
def test_byte_blocks_and_pandas_blocks_write_the_same_store(tmp_path, monkeypatch, fmt,
                                                            hash_buckets):
    """bytescan blocks and pandas blocks in one run, and the same files through pandas only:
    byte-identical stores (features, labels, feature map), on train and test splits; with the
    vocabulary and with the hashing trick (one rule on keys and on strings)."""
    train, test = tmp_path / 'train.txt', tmp_path / 'test.txt'
    _mixed_file(train, fmt, 3000, seed=1)
    _mixed_file(test, fmt, 800, seed=2)
    taken = []
    scan_block = blocks.scan_block

    def counted(*args):
        block = scan_block(*args)
        taken.append(block is not None)
        return block

    stores = {}
    for name, fn in (('mixed', counted), ('pandas', lambda *args: None)):
        monkeypatch.setattr(blocks, 'scan_block', fn)
        out = tmp_path / name
        report = preprocess.preprocess(fmt, str(train), str(out), test_path=str(test),
                                       min_threshold=2, block_mb=0.03, workers=1,
                                       log=lambda *a: None, hash_buckets=hash_buckets)
        stores[name] = {f: (out / f).read_bytes() for f in sorted(os.listdir(out))
                        if f not in ('store.json', 'manifest.json') and not f.startswith('.')}
        stores[name]['report'] = report['splits']
    assert True in taken and False in taken, taken     # both kinds of block were parsed
    assert stores['mixed'].keys() == stores['pandas'].keys()
    for name in stores['mixed']:
        assert stores['mixed'][name] == stores['pandas'][name], name
    assert stores['mixed']['report']['train']['skipped'] == 1 + (12 if fmt == 'criteo' else 0)


def test_int_tokens_are_criteo_discretize():
    from d2l_deepfm.inputs import bytescan
    values = ['', '0', '1', '2', '3', '-1', '-0', '00', '007', '99999999', '-9999999', '20']
    values += [str(v) for v in onp.random.default_rng(0).integers(-9999999, 99999999, 2000)]
    codes = blocks.int_tokens(bytescan.encode(values)[0])
    assert [blocks.token_of_code(c) for c in codes.tolist()] == \
        list(criteo.discretize(criteo.pd.Series(values, dtype=object)))
    for other in ('-', '1e3', '+5', ' 5', '5.0', 'abc', '--1', '1-'):
        assert blocks.int_tokens(bytescan.encode(['1', other])[0]) is None, other


@pytest.mark.parametrize('bad, message', [(b'\xff', 'not UTF-8 text (byte 0xff)'),
                                          (b'\x00', 'binary data (a NUL byte)')])
def test_a_bad_byte_in_a_later_block_is_the_files_error(tmp_path, monkeypatch, bad, message):
    """Only the start of the file is checked up front: a later block with a NUL byte or
    invalid UTF-8 gives check_text_file's one-line error, naming the line; valid UTF-8 in a
    later block is read."""
    from d2l_deepfm.inputs import checks as validate
    monkeypatch.setattr(validate, 'HEAD_CHUNK', 4096)       # the start: the first 4 KiB
    path = tmp_path / 'train.txt'
    criteo_synthetic.write_criteo(str(path), 2000, seed=3)
    lines = path.read_bytes().split(b'\n')
    lines[1500] = lines[1500].replace(b'\t', b'\t\xc3\xa9', 1)      # 'é' in I1: fine
    path.write_bytes(b'\n'.join(lines))
    report = preprocess.preprocess('criteo', str(path), str(tmp_path / 'ok'), block_mb=0.05,
                                   workers=1, log=lambda *a: None)
    assert report['splits']['train']['rows'] == 2000
    for at in (2, 1 + lines[1800].rindex(b'\t')):            # in I1 (decoded), in C26
        broken = list(lines)
        broken[1800] = lines[1800][:at] + bad + lines[1800][at:]
        path.write_bytes(b'\n'.join(broken))
        with pytest.raises(DataError,
                           match='line 1801: ' + message.replace('(', r'\(').replace(')', r'\)')):
            preprocess.preprocess('criteo', str(path), str(tmp_path / 'bad'), block_mb=0.05,
                                  workers=1, log=lambda *a: None)


def test_hashed_store_is_the_hash_of_each_fields_strings(tmp_path):
    """--hash-buckets N: field f's index is f * N + bytescan.hash_values(its token) (the
    tokens of criteo.read_criteo, binned integers included); no vocabulary is kept."""
    from d2l_deepfm.inputs import bytescan
    train, test = tmp_path / 'train.txt', tmp_path / 'test.txt'
    _mixed_file(train, 'criteo', 2000, seed=3)
    criteo_synthetic.write_criteo(str(test), 300, seed=4)
    out, n = tmp_path / 'store', 5000
    r = run_module('d2l_deepfm.preprocess', '--format', 'criteo', '--input', train, '--test', test,
                   '--out', out, '--hash-buckets', n, '--block-mb', 0.05, '--workers', 2)
    assert r.returncode == 0, r.stderr
    for split, path in (('train', train), ('test', test)):
        labels, tokens, skipped = criteo.read_criteo(str(path))
        X, y = load_split(out, split)
        expected = onp.stack([bytescan.hash_values(tokens[i].tolist(), n) + (i - 1) * n
                              for i in tokens.columns], axis=1)
        onp.testing.assert_array_equal(X, expected)
        onp.testing.assert_array_equal(y, labels)
    _, _, doc = load_feature_map(out / 'feature_map.json')
    assert doc['hash_buckets'] == n and doc['field_dims'] == [n] * criteo.NUM_FEAT
    assert doc['min_threshold'] is None and json.loads((out / 'store.json').read_text())['hash_buckets'] == n


def test_hash_rule_is_stable():
    """The buckets are part of a store's format: the same on every machine and version."""
    from d2l_deepfm.inputs import bytescan
    values = ['', 'a', '68fd1e64', 'abcdefghijk', 'b12', '\u00e9']
    assert bytescan.hash_values(values, 1000).tolist() == [883, 310, 474, 813, 793, 144]
    keys, fits = bytescan.encode(values)
    assert bytescan.hash_keys(keys, 1000).tolist() == [883, 310, 474, 793, 144]
    assert bytescan.hash_values(['68fd1e64'], 2 ** 31 - 1).tolist() == \
        [int((int(bytescan.mix64(keys[2])) >> 32) * (2 ** 31 - 1) >> 32)]


def test_field_ids_number_values_in_order_of_first_appearance_whichever_way_they_come():
    """Blocks of keys (byte blocks) and of strings (pandas blocks: long values, NUL, UTF-8)
    give each value one id, in order of first appearance (the plain rule: a dict)."""
    from d2l_deepfm.inputs import bytescan
    from d2l_deepfm.store.vocabulary import FieldIds
    rng = onp.random.default_rng(0)
    pool = [f'{i:x}' for i in range(2000)] + [f'a-long-value-{i}' for i in range(30)] + \
        ['', 'é', 'ü' * 4, 'ü' * 5, 'a\x00', 'a']
    ids, plain = FieldIds(), {}
    for block in range(50):
        values = onp.array(list(dict.fromkeys(rng.choice(pool, size=int(rng.integers(1, 300))))),
                           dtype=object)
        keys, fits = bytescan.encode(values)
        as_keys = block % 2 and fits.all() and not any('\x00' in v for v in values)
        got = ids.lookup_keys(keys) if as_keys else ids.lookup(values)
        assert got.tolist() == [plain.setdefault(v, len(plain)) for v in values]
    assert len(ids) == len(plain) and ids.values() == list(plain)
    keep = rng.random(len(plain)) < 0.3
    assert ids.values(keep) == [v for v, k in zip(plain, keep) if k]
