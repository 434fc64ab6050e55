"""score.py: click probabilities from an exported d2l_deepfm model, without MXNet.

Needs Python >= 3.8, numpy and onnxruntime, and the files the export wrote beside it:
model.onnx, feature_map.json and layout.py (the package's token rules, copied).

    python score.py --input FILE [--output FILE]

FILE holds rows in the training layout, with or without the label column (a header line is
read as predict reads it), plain or gzip-compressed, or '-' for standard input. Each value goes through the training run's feature map as in the
package: the value's token (layout.py: e.g. Criteo's integer binning), then its index in
feat_mapper, or the field's default index for a value never seen in training or rarer there
than min_threshold. One probability per row, in input order, one per line ("%.9g"). A row
with the wrong number of fields or a label other than 0/1 is an error (exit status 2).
In the package this file is d2l_deepfm/scoring/scorer.py; the export copies it as score.py.
"""
import argparse
import csv
import gzip
import json
import os
import re
import sys

import numpy as np
import onnxruntime as ort

try:
    import layout                      # beside score.py in an exported folder
except ImportError:                    # inside the package (tests)
    from ..inputs import layout

HERE = os.path.dirname(os.path.abspath(__file__))
WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_ .\-]*')
NOT_HEADERS = {'yes', 'no', 'true', 'false', 'y', 'n', 't', 'f'}


class ScoreError(Exception):
    """A problem with the input: one line on stderr, exit status 2."""


def is_header(line):
    """The package's header rule (validate.is_header; a test checks they agree): a first line
    whose first field is a word, not a number and not a yes/no-like value."""
    first = line.split('\t', 1)[0].strip()
    if not WORD.fullmatch(first) or first.lower() in NOT_HEADERS:
        return False
    try:
        float(first)
        return False
    except ValueError:
        return True


def load(folder=HERE):
    """(onnxruntime session, feature map document, resolved layout) of an exported model."""
    with open(os.path.join(folder, 'feature_map.json'), encoding='utf-8') as f:
        doc = json.load(f)
    if 'layout' in doc:
        lay = layout.Layout.from_dict(doc['layout'])
    else:
        fmt = doc.get('format', 'd2l')
        lay = layout.resolve(layout.request(fmt), layout.positional_columns(fmt))
    session = ort.InferenceSession(os.path.join(folder, 'model.onnx'),
                                   providers=['CPUExecutionProvider'])
    return session, doc, lay


def read_text(path):
    """The text of a file, plain or gzip-compressed (by its first bytes), or of stdin ('-')."""
    raw = sys.stdin.buffer.read() if path == '-' else open(path, 'rb').read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    if b'\0' in raw:
        raise ScoreError(f'{path}: binary data (a NUL byte), not text')
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ScoreError(f'{path}: not UTF-8 text (byte {e.start})') from None


def split_lines(text, sep):
    """[(line number, fields)] of the non-blank lines; CSV quoting honoured when there are quotes."""
    numbered = [(n, line.rstrip('\r')) for n, line in enumerate(text.split('\n'), 1)]
    numbered = [(n, line) for n, line in numbered if line]
    if sep == ',' and '"' in text:
        return [(n, row) for (n, _), row in zip(numbered, csv.reader([line for _, line in numbered]))]
    return [(n, line.split(sep)) for n, line in numbered]


def read_rows(path, lay):
    """(columns, rows as lists of strings) of an input file, read as predict reads it
    (inputs/tabular.py): the layout's separator (Criteo also as CSV), a header line when the
    layout has one or the first line looks like one, the label column optional."""
    name = '<stdin>' if path == '-' else path
    text = read_text(path)
    first = next((line.rstrip('\r') for line in text.split('\n') if line.strip()), None)
    if first is None:
        raise ScoreError(f'{name}: no rows to score (the file is empty)')
    sep = lay.separator
    if lay.format == 'criteo' and '\t' not in first and ',' in first:
        sep = ','                                         # Criteo written as CSV
    lines = split_lines(text, sep)
    header = lay.header or is_header(first.replace(sep, '\t'))
    columns = list(lay.columns)
    if header:
        names = [f.strip() for f in lines.pop(0)[1]]
        if lay.header:
            columns = names
            missing = [c for c in lay.sources() if c not in columns]
            if missing:
                raise ScoreError(f'{name}: the model was trained on columns this file lacks: '
                                 f'{", ".join(missing)} (columns: {", ".join(columns)})')
    if not lines:
        raise ScoreError(f'{name}: no rows to score (only a header line)')
    width = len(lines[0][1])
    if not lay.header:
        if width == len(columns) - 1:
            columns = [c for c in columns if c != lay.label]
        elif width != len(columns):
            raise ScoreError(f'{name}: the first row has {width} fields; the model expects '
                             f'{len(columns)} (label + {len(columns) - 1} fields) or {len(columns) - 1} (no label)')
    for n, row in lines:
        if len(row) != len(columns):
            raise ScoreError(f'{name}, line {n}: {len(row)} fields, expected {len(columns)}; '
                             'every row needs a probability: fix the file')
    if lay.label in columns:
        at = columns.index(lay.label)
        for n, row in lines:
            try:
                ok = float(row[at]) in (0.0, 1.0)
            except ValueError:
                ok = False
            if not ok:
                raise ScoreError(f"{name}, line {n}: label {row[at]!r} is not 0 or 1; labels must be "
                                 '0 (no click) or 1 (click)')
    return columns, [row for _, row in lines]


def field_indices(columns, rows, doc, lay):
    """(n, num_fields) int64: per field, feat_mapper's index of the value's token, or the default."""
    fields = []
    for c in lay.sources():
        at = columns.index(c)
        fields += lay.tokens_for(c, [r[at] for r in rows])
    mappers = [doc['feat_mapper'][str(i)] for i in range(1, len(fields) + 1)]
    defaults = [doc['defaults'][str(i)] for i in range(1, len(fields) + 1)]
    out = np.empty((len(rows), len(fields)), dtype=np.int64)
    for j, (tokens, mapper, default) in enumerate(zip(fields, mappers, defaults)):
        out[:, j] = [mapper.get(t, default) for t in tokens]
    return out


def score(path, folder=HERE, batch_size=65536):
    """Click probabilities (float32 (n,)) of the rows of `path`."""
    session, doc, lay = load(folder)
    columns, rows = read_rows(path, lay)
    x = field_indices(columns, rows, doc, lay)
    name = session.get_inputs()[0].name
    out = [session.run(None, {name: x[s:s + batch_size]})[0][:, 0] for s in range(0, len(x), batch_size)]
    return np.concatenate(out)


def main(argv=None):
    p = argparse.ArgumentParser(prog='score.py', description=__doc__.split('\n')[0],
                                allow_abbrev=False)
    p.add_argument('--input', required=True, help="rows to score (the training layout, label optional; "
                   "gzip'd or not; '-': standard input)")
    p.add_argument('--output', help='one probability per line (default: stdout)')
    p.add_argument('--model-dir', default=HERE, help='the exported folder (default: this file\'s)')
    args = p.parse_args(argv)
    try:
        probs = score(args.input, args.model_dir)
    except (ScoreError, OSError, UnicodeDecodeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    text = ''.join('%.9g\n' % x for x in probs)
    if args.output:
        tmp = args.output + '.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, args.output)
        print(f'scored {len(probs)} rows; wrote {args.output}', file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
