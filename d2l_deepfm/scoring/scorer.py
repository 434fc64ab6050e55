"""score.py: click probabilities from an exported d2l_deepfm model, without MXNet.

Needs Python >= 3.8, numpy and onnxruntime, and the files the export wrote beside it:
model.onnx, feature_map.json, and the package's token rules, copied: layout.py (how a row
becomes tokens) and hashing.py (the hashing trick of a model trained with --hash-buckets).

    python score.py --input FILE [--output FILE]

FILE holds rows in the training layout, with or without the label column (a header line is
read as predict reads it), plain or gzip-compressed, or '-' for standard input. Each value goes
through the training run's feature map as in the package: the value's token (layout.py: e.g.
Criteo's integer binning), then its index: feat_mapper's, or the field's default index for a
value never seen in training or rarer there than min_threshold; or, for a model trained with
--hash-buckets N, its bucket (hashing.py). A feature map with a rule this file does not know is
refused, never scored without it.

Output: one line per input line after the header, in input order: the row's probability
("%.9g"), or an empty line for an empty input line, so output line k belongs to input row k.
--output (never the input or a model file) is written atomically, nothing left on failure. A
bad row, a damaged input (truncated gzip) or an unwritable output: one `error:` line, exit 2.
In the package this file is d2l_deepfm/scoring/scorer.py; the export copies it as score.py.
"""
import argparse
import csv
import gzip
import json
import os
import re
import sys
import zlib

import numpy as np
import onnxruntime as ort

try:
    import hashing                     # beside score.py in an exported folder
    import layout
except ImportError:                    # inside the package (tests)
    from ..inputs import hashing, layout

HERE = os.path.dirname(os.path.abspath(__file__))
WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_ .\-]*')
NOT_HEADERS = {'yes', 'no', 'true', 'false', 'y', 'n', 't', 'f'}
RULE_MODULES = ('layout', 'hashing')   # the package's rule files an export copies beside score.py
# every key of feature_map.json this file applies; another one is a rule it would silently skip
KNOWN_KEYS = {'num_feat', 'feat_mapper', 'defaults', 'field_dims', 'min_threshold', 'format',
              'layout', 'hash_buckets'}
MODEL_FILES = ('model.onnx', 'feature_map.json', 'score.py') + tuple(m + '.py' for m in RULE_MODULES)


class ScoreError(Exception):
    """A problem with the input: one line on stderr, exit status 2."""


def is_header(line):
    """The package's header rule (validate.is_header; a test checks they agree): a first line
    whose first field is a word, not a number and not a yes/no-like value."""
    first = line.lstrip('\ufeff').split('\t', 1)[0].strip()
    if not WORD.fullmatch(first) or first.lower() in NOT_HEADERS:
        return False
    return not re.fullmatch(r'[+-]?(inf(inity)?|nan)', first, re.I)   # what float() would take


def load(folder=HERE):
    """(onnxruntime session, feature map document, resolved layout) of an exported model."""
    path = os.path.join(folder, 'feature_map.json')
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except ValueError as e:
        raise ScoreError(f'{path}: not a feature map ({e}); export the model again') from None
    unknown = sorted(set(doc) - KNOWN_KEYS) if isinstance(doc, dict) else ['(not an object)']
    if unknown:
        raise ScoreError(f'{path}: rules this score.py does not apply ({", ".join(unknown)}); '
                         'export the model again with the package that trained it')
    n, maps = doc.get('num_feat'), [doc.get(k) or {} for k in ('feat_mapper', 'defaults')]
    if not isinstance(n, int) or any(str(i) not in m for i in range(1, n + 1) for m in maps):
        raise ScoreError(f'{path}: an incomplete feature map; export the model again')
    if 'layout' in doc:
        lay = layout.Layout.from_dict(doc['layout'])
    else:
        fmt = doc.get('format', 'd2l')
        lay = layout.resolve(layout.request(fmt), layout.positional_columns(fmt))
    try:
        session = ort.InferenceSession(os.path.join(folder, 'model.onnx'),
                                       providers=['CPUExecutionProvider'])
    except Exception as e:              # noqa: BLE001 (onnxruntime's own error types)
        raise ScoreError(f"{os.path.join(folder, 'model.onnx')}: cannot load it "
                         f"({str(e).splitlines()[0][:160] if str(e) else type(e).__name__}); "
                         'export the model again') from None
    return session, doc, lay


def read_text(path):
    """The text of a file, plain or gzip-compressed (by its first bytes), or of stdin ('-')."""
    name = '<stdin>' if path == '-' else path
    if path == '-':
        raw = sys.stdin.buffer.read()
    else:
        with open(path, 'rb') as f:
            raw = f.read()
    if raw[:2] == b'\x1f\x8b':
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ScoreError(f'{name}: a damaged or truncated gzip file ({e}); '
                             'nothing was scored') from None
    if raw[:3] == b'\xef\xbb\xbf':                     # a UTF-8 byte order mark: not data
        raw = raw[3:]
    if b'\0' in raw:
        raise ScoreError(f'{name}: binary data (a NUL byte), not text')
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ScoreError(f'{name}: not UTF-8 text (byte {e.start})') from None


def split_lines(text, sep):
    """[(line number, fields, or None for a blank line)] of every line; CSV quoting honoured
    when there are quotes."""
    pieces = text.split('\n')
    if pieces and pieces[-1] == '':
        pieces.pop()                                      # the last line's newline
    numbered = [(n, line.rstrip('\r')) for n, line in enumerate(pieces, 1)]
    rows = [(n, line) for n, line in numbered if line]
    if sep == ',' and '"' in text:
        fields = dict(zip((n for n, _ in rows), csv.reader([line for _, line in rows])))
    else:
        fields = {n: line.split(sep) for n, line in rows}
    return [(n, fields.get(n)) for n, _ in numbered]


def read_rows(path, lay):
    """(columns, rows as lists of strings, order) of an input file, read as predict reads it
    (inputs/reader.py): the layout's separator (Criteo also as CSV), a header line when the
    layout has one or the first line looks like one, the label column optional. order has one
    entry per line after the header: the row's index in rows, or None for a blank line."""
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
        at = next(i for i, (_, fields) in enumerate(lines) if fields is not None)
        names = [f.strip() for f in lines[at][1]]
        lines = lines[at + 1:]                            # blank lines before it: not rows
        if lay.header:
            columns = names
            missing = [c for c in lay.sources() if c not in columns]
            if missing:
                raise ScoreError(f'{name}: the model was trained on columns this file lacks: '
                                 f'{", ".join(missing)} (columns: {", ".join(columns)})')
    rows = [(n, fields) for n, fields in lines if fields is not None]
    if not rows:
        raise ScoreError(f'{name}: no rows to score (only a header line)')
    width = len(rows[0][1])
    if not lay.header:
        if width == len(columns) - 1:
            columns = [c for c in columns if c != lay.label]
        elif width != len(columns):
            raise ScoreError(f'{name}: the first row has {width} fields; the model expects '
                             f'{len(columns)} (label + {len(columns) - 1} fields) or {len(columns) - 1} (no label)')
    for n, row in rows:
        if len(row) != len(columns):
            raise ScoreError(f'{name}, line {n}: {len(row)} fields, expected {len(columns)}; '
                             'every row needs a probability: fix the file')
    if lay.label in columns:
        at = columns.index(lay.label)
        for n, row in rows:
            try:
                ok = float(row[at]) in (0.0, 1.0)
            except ValueError:
                ok = False
            if not ok:
                raise ScoreError(f"{name}, line {n}: label {row[at]!r} is not 0 or 1; labels must be "
                                 '0 (no click) or 1 (click)')
    k = iter(range(len(rows)))
    order = [None if fields is None else next(k) for _, fields in lines]
    return columns, [row for _, row in rows], order


def field_indices(columns, rows, doc, lay):
    """(n, num_fields) int64: per field, the index of the value's token under the feature map's
    rule: its bucket (hash_buckets), else feat_mapper's index or the field's default."""
    fields = []
    for c in lay.sources():
        at = columns.index(c)
        fields += lay.tokens_for(c, [r[at] for r in rows])
    if len(fields) != int(doc['num_feat']):
        raise ScoreError(f'the rows give {len(fields)} fields, the model has {doc["num_feat"]}')
    out = np.empty((len(rows), len(fields)), dtype=np.int64)
    buckets = doc.get('hash_buckets')
    for j, tokens in enumerate(fields):
        if buckets:
            out[:, j] = hashing.hash_values(tokens, int(buckets))
        else:
            mapper, default = doc['feat_mapper'][str(j + 1)], doc['defaults'][str(j + 1)]
            out[:, j] = [mapper.get(t, default) for t in tokens]
    return out


def score_lines(path, folder=HERE, batch_size=65536):
    """(click probabilities float32 (n,) of the rows, order: one entry per input line after the
    header, the row's index or None for a blank line)."""
    session, doc, lay = load(folder)
    columns, rows, order = read_rows(path, lay)
    x = field_indices(columns, rows, doc, lay)
    name = session.get_inputs()[0].name
    out = [session.run(None, {name: x[s:s + batch_size]})[0][:, 0] for s in range(0, len(x), batch_size)]
    return np.concatenate(out), order


def score(path, folder=HERE, batch_size=65536):
    """Click probabilities (float32 (n,)) of the rows of `path` (blank lines skipped)."""
    return score_lines(path, folder, batch_size)[0]


def output_text(probs, order):
    """One line per input line: the probability, or '' for a blank line."""
    return ''.join('\n' if i is None else '%.9g\n' % probs[i] for i in order)


def _same(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(output, source, folder):
    """Refuse an --output that is the input, a file of the model, or a folder."""
    if output == '':
        raise ScoreError('--output is empty: give a file name')
    if source != '-' and _same(output, source):
        raise ScoreError(f'--output {output} is the --input file: it would be overwritten; '
                         'give another --output')
    for name in MODEL_FILES:
        if _same(output, os.path.join(folder, name)):
            raise ScoreError(f'--output {output} is the model\'s {name}; give another --output')
    parent = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output) or not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise ScoreError(f'--output {output}: cannot write it (a folder, or {parent} is missing '
                         'or not writable)')


def write_atomically(path, text):
    """text into `path` through a temporary file beside it, renamed into place; the temporary
    file is removed whatever happens (a full disk included)."""
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f'.{base}.tmp{os.getpid()}')
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class Parser(argparse.ArgumentParser):
    """One line for a usage mistake (as the package's commands): `error: ...`, exit status 2."""

    def error(self, message):
        self.exit(2, f'error: {message}; see {self.prog} --help\n')


def main(argv=None):
    p = Parser(prog='score.py', description=__doc__.split('\n')[0],
               allow_abbrev=False)
    p.add_argument('--input', required=True, help="rows to score (the training layout, label optional; "
                   "gzip'd or not; '-': standard input)")
    p.add_argument('--output', help='one probability per input line, an empty line for a blank '
                   'one (default: stdout)')
    p.add_argument('--model-dir', default=HERE, help='the exported folder (default: this file\'s)')
    args = p.parse_args(argv)
    try:
        if args.output is not None:
            check_output(args.output, args.input, args.model_dir)
        probs, order = score_lines(args.input, args.model_dir)
        text = output_text(probs, order)
        if args.output is not None:
            write_atomically(args.output, text)
            print(f'scored {len(probs)} rows; wrote {args.output}', file=sys.stderr)
        else:
            sys.stdout.write(text)
    except (ScoreError, OSError, UnicodeDecodeError, MemoryError) as e:
        if isinstance(e, OSError) and e.strerror:
            e = f'{e.filename or args.output or args.input}: {e.strerror}'
        print(f'error: {e or type(e).__name__}; nothing was written', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
