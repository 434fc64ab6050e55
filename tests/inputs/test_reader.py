import gzip
import io
import math
import sys

import numpy as onp
import pytest

from d2l_deepfm.errors import ConfigError, DataError
from d2l_deepfm.inputs import layout as L
from d2l_deepfm.inputs import reader as T

AVAZU = ('id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,'
         'app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,'
         'C17,C18,C19,C20,C21')
CRITEO_NAMES = ['label'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)]


def write(path, text, gz=False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def criteo_rows(n=60, seed=0, floats=False):
    rng = onp.random.default_rng(seed)
    rows = []
    for i in range(n):
        ints = ['' if rng.random() < 0.2 else str(int(rng.integers(-1, 500))) for _ in range(13)]
        if floats:
            ints = [v + '.0' if v else v for v in ints]
        cats = ['' if rng.random() < 0.1 else '%08x' % int(rng.integers(0, 5)) for _ in range(26)]
        rows.append([str(i % 2)] + ints + cats)
    return rows


def avazu_rows(n=40, seed=0):
    rng = onp.random.default_rng(seed)
    rows = []
    for i in range(n):
        hour = '141021%02d' % (i % 24) if i % 2 else '141022%02d' % (i % 24)
        rows.append([str(10 ** 19 + i), str(int(i % 3 == 0)), hour, '1005', str(i % 2)]
                    + ['%08x' % int(rng.integers(0, 4)) for _ in range(11)] + [str(15700 + i % 3)]
                    + ['320', '50', '1722', '0', '35', '-1', '79'])
    return rows


def test_csv_with_a_header_label_drop_numeric(tmp_path):
    text = 'Id,Click,count,site\n1,0,260.0,a\n2,1,260,b\n3,0,,a\n4,1,1.5,c\n'
    rows = T.read(write(tmp_path / 'x.csv', text), L.request('csv', drop=['Id'], numeric=['count']))
    assert rows.labels.tolist() == [0, 1, 0, 1] and rows.skipped == 0
    b260 = 'b%d' % math.floor(math.log(260) ** 2)
    assert rows.tokens[1].tolist() == [b260, b260, '', 'v1']
    assert rows.tokens[2].tolist() == ['a', 'b', 'a', 'c'] and list(rows.tokens.columns) == [1, 2]
    lay = rows.layout
    assert (lay.label, lay.drop, lay.numeric, lay.categorical) == ('Click', ['Id'], ['count'], ['site'])
    assert 'label Click; dropped Id; numeric (binned) count; categorical site' in lay.describe()


def test_gzip_is_read_as_text_for_every_format(tmp_path):
    body = '\n'.join('\t'.join(r) for r in criteo_rows()) + '\n1\t2\t3\n'     # one malformed row
    plain = T.read(write(tmp_path / 'c.txt', body), L.request('criteo'))
    packed = T.read(write(tmp_path / 'c.txt.gz', body, gz=True), L.request('criteo'))
    assert plain.skipped == packed.skipped == 1
    assert (plain.labels == packed.labels).all() and plain.tokens.equals(packed.tokens)
    d2l = '\n'.join('\t'.join([str(i % 2)] + [f'v{(i * j) % 5}' for j in range(34)]) for i in range(30))
    plain = T.read(write(tmp_path / 'd.csv', d2l), L.request('d2l'))
    packed = T.read(write(tmp_path / 'd', d2l, gz=True), L.request('d2l'))     # no .gz: by its bytes
    assert plain.tokens.shape == (30, 34) and plain.tokens.equals(packed.tokens)
    csv_text = AVAZU + '\n' + '\n'.join(','.join(r) for r in avazu_rows()) + '\n'
    plain = T.read(write(tmp_path / 'a.csv', csv_text), L.request('avazu'))
    packed = T.read(write(tmp_path / 'a.csv.gz', csv_text, gz=True), L.request('avazu'))
    assert plain.tokens.equals(packed.tokens) and len(plain.labels) == 40


def test_criteo_as_csv_in_both_header_styles_reads_like_the_raw_file(tmp_path):
    rows = criteo_rows()
    raw = T.read(write(tmp_path / 'raw.txt', '\n'.join('\t'.join(r) for r in rows)), L.request('criteo'))
    deepctr = ','.join(CRITEO_NAMES) + '\n' + '\n'.join(','.join(r) for r in criteo_rows(floats=True))
    kaggle = ','.join(['Id', 'Label'] + CRITEO_NAMES[1:]) + '\n' + \
        '\n'.join(','.join([str(10000000 + i)] + r) for i, r in enumerate(rows))
    for text, dropped in ((deepctr, []), (kaggle, ['Id'])):
        got = T.read(write(tmp_path / 'x.csv', text, gz=bool(dropped)), L.request('criteo'))
        assert got.layout.drop == dropped and got.layout.numeric == CRITEO_NAMES[1:14]
        assert (got.labels == raw.labels).all() and got.tokens.equals(raw.tokens)


def test_avazu_layout(tmp_path):
    rows = avazu_rows()
    got = T.read(write(tmp_path / 'a.csv', AVAZU + '\r\n' + '\r\n'.join(','.join(r) for r in rows)),
                 L.request('avazu'))
    assert got.tokens.shape == (40, 23) and got.labels.sum() == 14
    assert got.tokens[1].tolist()[:3] == ['0', '1', '2'] and got.tokens[2].tolist()[:2] == ['wed', 'tue']
    assert got.tokens[3].tolist()[0] == '1005' and got.layout.drop == ['id']
    assert got.notes == []


def test_quoted_csv_fields_and_an_id_note(tmp_path):
    text = 'y,name,n\n' + ''.join(f'{i % 2},"{i}, quoted",{i}\n' for i in range(120))
    got = T.read(write(tmp_path / 'q.csv', text), L.request('csv'))
    assert got.tokens[1].tolist()[:2] == ['0, quoted', '1, quoted'] and len(got.labels) == 120
    assert any('column name has a different value on every row' in n and '--drop name' in n
               for n in got.notes)


def test_standard_input(tmp_path, monkeypatch):
    text = 'click,a\n1,x\n0,y\n'
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(gzip.compress(text.encode()))))
    got = T.read('-', L.request('csv'))
    assert got.labels.tolist() == [1, 0] and got.tokens[1].tolist() == ['x', 'y']


def test_a_recorded_layout_reads_new_rows_by_column_name(tmp_path):
    first = T.read(write(tmp_path / 'a.csv', 'id,y,a,n\n1,0,x,5\n2,1,z,7\n'),
                   L.request('csv', drop=['id'], numeric=['n']))
    again = L.Layout.from_dict(first.layout.to_dict())
    # columns in another order, no label and no id column: the same tokens
    got = T.read(write(tmp_path / 'b.csv', 'n,a\n5,x\n7,z\n'), again, label_required=False)
    assert got.labels is None and got.tokens.equals(first.tokens)
    with pytest.raises(ConfigError, match='the model was trained on columns this file lacks: n'):
        T.read(write(tmp_path / 'c.csv', 'y,a\n1,x\n'), again, label_required=False)


def test_positional_rows_without_labels(tmp_path):
    rows = criteo_rows(5)
    got = T.read(write(tmp_path / 'x.txt', '\n'.join('\t'.join(r[1:]) for r in rows), gz=True),
                 L.request('criteo'), label_required=False, strict=True)
    assert got.labels is None and got.tokens.shape == (5, 39)


@pytest.mark.parametrize('fmt, kwargs, text, error, message', [
    ('criteo', {}, ','.join(['X', 'label'] + CRITEO_NAMES[1:]) + '\n' + ','.join(['7'] + criteo_rows(1)[0]),
     ConfigError, 'x.csv: 41 comma-separated fields in the header; 41 columns, 40 besides the label '
     'and dropped ones; Criteo has 39 (I1..I13, C1..C26): an Id column? use --drop COLUMN'),
    ('criteo', {}, ','.join(['7'] + criteo_rows(1)[0]) + '\n', DataError,
     'x.csv: no rows with the 40 comma-separated fields of the criteo layout: the first rows have 41; '
     'an Id column?'),
    ('csv', {}, 'a,b\n1,2\n', ConfigError, 'no label column: none is named label, click or y'),
    ('csv', {}, 'y,b\n1,2\n0,3\nyes,4\n', DataError, "x.csv, line 4: label 'yes' is not 0 or 1"),
    ('csv', {}, 'y,b\n1,2\n\n0,3,4\n', DataError,
     'x.csv, line 4: 3 comma-separated fields, the header has 2 (1 such rows); fix the file'),
    ('csv', {}, 'y,b\n1,2\n"0",3,4\n', DataError, 'x.csv, line 3: 3 comma-separated fields'),
    ('csv', {'drop': ['q']}, 'y,b\n1,2\n', ConfigError, '--drop q: no such column (columns: y, b)'),
    ('csv', {'numeric': ['q']}, 'y,b\n1,2\n', ConfigError, '--numeric q: no such column'),
    ('csv', {}, '1,2,a\n0,3,b\n', DataError, "x.csv: the first line is data, not a header (field 1 is '1'"),
    ('csv', {}, 'y\tb\n1\t2\n', DataError,
     'x.csv: the header line has 1 comma-separated field but 2 tab-separated ones: --format tsv?'),
    ('csv', {}, '\t'.join(criteo_rows(1)[0]) + '\n', DataError,
     'x.csv: the header line has 1 comma-separated field but 40 tab-separated ones: --format criteo?'),
    ('csv', {}, 'y,b\n', DataError, 'x.csv: no rows (only a header line)'),
    ('csv', {}, '\n\n', DataError, 'x.csv: the file is empty (only blank lines)'),
    ('avazu', {}, 'click,a\n1,x\n', ConfigError, 'not the Avazu layout: no column id, hour'),
])
def test_errors_say_what_was_found(tmp_path, fmt, kwargs, text, error, message):
    with pytest.raises(error) as e:
        T.read(write(tmp_path / 'x.csv', text), L.request(fmt, **kwargs))
    assert message in str(e.value), str(e.value)
    assert '\n' not in str(e.value)


def test_damaged_files(tmp_path):
    packed = gzip.compress(b'y,a\n1,x\n' * 100)
    (tmp_path / 'cut.gz').write_bytes(packed[:len(packed) // 2])
    with pytest.raises(DataError, match='cut.gz: a damaged or truncated gzip file'):
        T.read(str(tmp_path / 'cut.gz'), L.request('csv'))
    (tmp_path / 'bin.csv').write_bytes(b'y,a\n1,x\n0,\xff\n')
    with pytest.raises(DataError, match=r'bin.csv, line 3: not UTF-8 text \(byte 0xff\)'):
        T.read(str(tmp_path / 'bin.csv'), L.request('csv'))
    with pytest.raises(DataError, match='no such file'):
        T.read(str(tmp_path / 'none.csv'), L.request('csv'))
