"""The runs root's results table (runs/results.csv): one line per model and seed of every
finished run, appended under a file lock when the run is published; read by the runs command.

Columns: run (the folder's name), date, data, protocol, model, seed, auc and logloss (test, to
4 digits, at the reported epoch), epoch (the one reported: picked on validation logloss, or the
last), seconds (that model's training, all epochs), data_sha1 (the data files' contents),
config_sha1 (everything that decides the numbers: RunConfig.digest), out (the folder), command.
Imports nothing heavy (the runs command answers without MXNet or matplotlib).
"""
import csv
import fcntl
import math
import os
import time

from ..errors import DataError

COLUMNS = ['run', 'date', 'data', 'protocol', 'model', 'seed', 'auc', 'logloss', 'epoch',
           'seconds', 'data_sha1', 'config_sha1', 'out', 'command']
MODELS = ('fm', 'deepfm', 'lr')


def data_name(info):
    """The data, named for a title: 'synthetic data (data/synthetic)', 'criteo data: train.txt'."""
    if info.get('source') == 'files':
        return f"{info.get('format', 'd2l')} data: {os.path.basename(info['train'])}"
    if info.get('source') == 'store':
        return f"store {info.get('folder', '')}"
    kind = {'synthetic': 'synthetic data', 'local': "d2l's ctr data",
            'downloaded': "d2l's ctr data"}.get(info.get('source'), 'data')
    return f"{kind} ({info.get('folder', '')})"


def four(x):
    """A metric to 4 digits ('nan' when undefined, '' when missing)."""
    if x is None or x == '':
        return ''
    return 'nan' if isinstance(x, float) and math.isnan(x) else f'{float(x):.4f}'


def rows_of(doc, out, command, digest, date=None):
    """The table's lines of a finished run (metrics.json's document): one per model and seed."""
    data = doc['data']
    common = {'run': os.path.basename(os.path.abspath(out)),
              'date': date or time.strftime('%Y-%m-%d %H:%M:%S'), 'data': data_name(data),
              'protocol': doc.get('protocol', ''), 'data_sha1': data.get('data_sha1', ''),
              'config_sha1': digest, 'out': out, 'command': command}
    rows = []
    for model in MODELS:
        if model not in doc:
            continue
        for r in doc[model].get('runs') or [doc[model]]:
            final = r['final']
            seconds = sum(e['seconds'] for e in r['epochs']) if r.get('epochs') else final.get('seconds')
            rows.append({**common, 'model': model, 'seed': r.get('seed', doc.get('seed', '')),
                         'auc': four(final.get('test_auc')), 'logloss': four(final.get('test_logloss')),
                         'epoch': final.get('epoch', ''),
                         'seconds': '' if seconds is None else f'{seconds:.1f}'})
    return rows


def append(path, rows):
    """Append `rows` to the table at `path` (header first if new), under a file lock. A table
    with other columns (an older version's) is set aside as <path>.old first; returns its name
    then, else None."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    moved = None
    with open(path, 'a+', newline='', encoding='utf-8') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        header = f.readline().strip()
        if header and header != ','.join(COLUMNS):
            moved = path + '.old'
            os.replace(path, moved)
            append(path, rows)
            return moved
        f.seek(0, os.SEEK_END)
        writer = csv.DictWriter(f, COLUMNS, extrasaction='ignore')
        if f.tell() == 0:
            writer.writeheader()
        writer.writerows(rows)
    return moved


def read(path):
    """The table's rows (dicts), oldest first; a missing table is a DataError naming it."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: no results table here (train writes one line per model and '
                        'seed of every finished run into <runs root>/results.csv)')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise DataError(f'{path}: not a results table of this version (columns '
                            f'{",".join(reader.fieldnames or [])})')
        return list(reader)


def format_rows(rows, columns):
    """Rows as an aligned text table (numbers right-aligned)."""
    table = [columns] + [[str(r.get(c, '')) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    numeric = {'seed', 'auc', 'logloss', 'epoch', 'seconds'}
    lines = ['  '.join(cell.rjust(w) if c in numeric else cell.ljust(w)
                       for cell, w, c in zip(line, widths, columns)).rstrip() for line in table]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)
