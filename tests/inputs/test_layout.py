import ast
import math

import numpy as onp
import pytest

from d2l_deepfm.inputs import layout as L

AVAZU = ('id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,'
         'app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,'
         'C17,C18,C19,C20,C21').split(',')


def test_numeric_binning_is_the_criteo_winners_rule():
    values = ['', '0', '1', '2', '3', '100', '-1', '1e3x', '260.0', '260', '1.5', 'nan', 'inf', '1e999']
    got = L.numeric_tokens(values)
    assert got[:5] == ['', 'v0', 'v1', 'v2', 'b%d' % math.floor(math.log(3) ** 2)]
    assert got[5] == 'b21' and got[6] == 'v-1' and got[7] == 's1e3x'
    assert got[8] == got[9] == 'b%d' % math.floor(math.log(260) ** 2)     # floats are numbers
    assert got[10] == 'v1'
    assert got[11:] == ['snan', 'sinf', 's1e999']       # not finite numbers: categories
    assert L.numeric_token('3') == got[4]


def test_binning_at_the_bin_edges():
    # the integers around exp(sqrt(k)), where floor(ln(v)^2) steps: one bin per step
    values = [str(v) for v in range(3, 200000)]
    bins = [int(t[1:]) for t in L.numeric_tokens(values)]
    expect = onp.floor(onp.log(onp.arange(3, 200000, dtype=onp.float64)) ** 2).astype(int)
    assert bins == expect.tolist()
    assert all(b2 - b1 in (0, 1) for b1, b2 in zip(bins, bins[1:]))


def test_hour_of_day_and_day_of_week():
    hours, days = L.hour_tokens(['14102100', '14102923', '14102613', 'abc', '14133100', '14102199'])
    assert hours == ['0', '23', '13', 'abc', '14133100', '14102199']
    assert days == ['tue', 'wed', 'sun', '', '', '']       # 2014-10-21 was a Tuesday


def test_avazu_layout_drops_id_and_splits_hour():
    lay = L.resolve(L.request('avazu'), AVAZU)
    assert lay.label == 'click' and lay.drop == ['id'] and lay.numeric == []
    assert lay.categorical == AVAZU[3:] and lay.transforms == {'hour': 'hour'}
    assert lay.field_names()[:3] == ['hour.hour', 'hour.weekday', 'C1']
    assert len(lay.field_names()) == 23
    row = dict(zip(AVAZU, ['1', '0', '14102100'] + [f'x{i}' for i in range(21)]))
    assert lay.tokens_of(row)[:3] == ['0', 'tue', 'x0']
    assert L.Layout.from_dict(lay.to_dict()) == lay


def test_a_scorer_reads_one_line_at_a_time():
    lay = L.resolve(L.request('avazu'), AVAZU)
    header = lay.split(','.join(AVAZU[::-1]) + '\r\n')          # any column order, by name
    line = ','.join(['79', '-1'] + [f'"x,{i}"' for i in range(19)] + ['14102100', '0', '7'])
    tokens = lay.tokens_of(lay.record(lay.split(line), header))
    assert tokens[:3] == ['0', 'tue', 'x,18'] and len(tokens) == 23
    crit = L.resolve(L.request('criteo'), L.positional_columns('criteo'))
    fields = crit.split('\t'.join(['1', '300'] + [''] * 12 + ['ab'] * 26) + '\n')
    assert crit.tokens_of(crit.record(fields))[:2] == ['b32', '']
    assert crit.tokens_of(crit.record(fields[1:])) == crit.tokens_of(crit.record(fields))   # no label
    with pytest.raises(L.LayoutError, match='3 fields, expected 40'):
        crit.record(fields[:3])


def test_csv_defaults_patterns_and_criteo_headers():
    lay = L.resolve(L.request('csv', numeric=['I*']), ['Click', 'I1', 'I2', 'C1'])
    assert lay.label == 'Click' and lay.numeric == ['I1', 'I2'] and lay.categorical == ['C1']
    names = ['label'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)]
    for header in (names, ['Id', 'Label'] + names[1:]):
        lay = L.resolve(L.request('criteo'), header)
        assert lay.numeric == names[1:14] and lay.categorical == names[14:]
        assert lay.drop == (['Id'] if header[0] == 'Id' else [])


@pytest.mark.parametrize('fmt, kwargs, columns, message', [
    ('csv', {}, ['a', 'b'], 'no label column: none is named label, click or y (2 columns: a, b)'),
    ('csv', {'label': 'z'}, ['a', 'b'], "no label column 'z'"),
    ('csv', {'drop': ['q']}, ['y', 'b'], '--drop q: no such column (columns: y, b)'),
    ('csv', {'numeric': ['q*']}, ['y', 'b'], '--numeric q*: no such column'),
    ('csv', {'drop': ['y']}, ['y', 'b'], 'the label column y cannot be dropped'),
    ('csv', {'drop': ['b'], 'numeric': ['b']}, ['y', 'b', 'c'], '--numeric b: the label, a dropped'),
    ('csv', {}, ['y', 'b', 'b'], "column 'b' appears twice"),
    ('avazu', {}, ['click', 'a'], 'not the Avazu layout: no column id, hour'),
    ('criteo', {}, ['label', 'X'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)],
     'an Id column? use --drop'),
])
def test_layout_errors_say_what_was_found(fmt, kwargs, columns, message):
    with pytest.raises(L.LayoutError) as e:
        L.resolve(L.request(fmt, **kwargs), columns)
    assert message in str(e.value) and '\n' not in str(e.value)


def test_requests_that_do_not_fit_the_format():
    with pytest.raises(L.LayoutError, match='not with --format d2l'):
        L.request('d2l', drop=['x'])
    with pytest.raises(L.LayoutError, match='--numeric does not apply to --format criteo'):
        L.request('criteo', numeric=['I1'])
    with pytest.raises(L.LayoutError, match='unknown format'):
        L.request('parquet')


def test_the_module_can_be_copied_on_its_own():
    # an exported model folder carries a copy: it must import nothing but the standard library and numpy
    tree = ast.parse(open(L.__file__).read())
    imported = {a.name.split('.')[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for a in node.names}
    imported |= {node.module.split('.')[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert imported <= {'csv', 'dataclasses', 'datetime', 'fnmatch', 're', 'numpy'}
