"""Checks on the user's input files, shared by every format: one clear line per mistake.

`checked_input` wraps `d2l_layout.read_table` (the one function every format reads through): before
parsing it rejects a missing path, a directory, an empty file and a file that is not UTF-8
text (NUL bytes, invalid UTF-8, compressed archives), naming the line; after parsing it drops
a header line. The other helpers run only when something is wrong or asked for: they rescan
the file in Python to name the offending line, so the fast parser never has to track lines.

A header is a first line that holds column names, never data (`is_header`, the one rule of
every reader): with a label column, its label field is a name (`label`, `click`, `Label` ...:
not a number, not a hash such as `fb015c22`, not a yes/no-like value, which are bad labels and
reported as such); without one (rows to score), every field is a name.
"""
import codecs
import functools
import os
import re

from ..errors import DataError

CHUNK = 1 << 24
HEAD_CHUNK = 1 << 20          # check_text_file(whole=False) reads the start in these
MAGIC = {b'\x1f\x8b': 'gzip-compressed', b'PK\x03\x04': 'a zip archive', b'BZh': 'bzip2-compressed',
         b'\xfd7zXZ\x00': 'xz-compressed'}
NOT_HEADERS = {'yes', 'no', 'true', 'false', 'y', 'n', 't', 'f'}
WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_ .\-]*')
BOM = '\ufeff'                            # a UTF-8 byte order mark before the first line: not data
HASH = re.compile(r'[0-9a-fA-F]{6,}')      # hashed values (Criteo, Avazu: 8 hex digits) are data


def _error(message):
    return DataError(message)


def is_name(field):
    """A column name: a word that is not a number ('nan', '1e3') and not a hashed value."""
    if not WORD.fullmatch(field) or HASH.fullmatch(field):
        return False
    try:
        float(field)
        return False
    except ValueError:
        return True


def is_header(line, labeled=True):
    """True if `line` (the first line of a file) is a header: with a label column (labeled),
    its label field is a column name; without one, every non-empty field is."""
    fields = [f.strip() for f in line.lstrip(BOM).rstrip('\r\n').split('\t')]
    if labeled:
        return is_name(fields[0]) and fields[0].lower() not in NOT_HEADERS
    names = [f for f in fields if f]
    return bool(names) and all(is_name(f) for f in names)


def header_effect(first, num_columns, labeled=True):
    """What a header line did to a reader that keeps the rows of `num_columns` fields: 'row' if it
    was parsed as the first row (drop that row), 'skipped' if it was counted as a malformed row
    (uncount it), None if the first non-blank line `first` is no header. The one header rule of
    every in-memory reader (the text table and the byte scanner)."""
    if first is None or not is_header(first, labeled):
        return None
    return 'row' if first.rstrip('\r\n').count('\t') + 1 == num_columns else 'skipped'


def data_start(path, num_feat=None):
    """(byte offset of the first data line, first non-blank line): after the header line if the
    first non-blank line is one, else 0. The header rule of the readers that stream a file.
    num_feat: rows to score, which may come without the label column (a first line of num_feat
    + 1 fields has one); otherwise every row has it."""
    with open(path, 'rb') as f:
        offset = 0
        for raw in f:
            offset += len(raw)
            if raw.strip():
                line = raw.decode('utf-8', errors='replace')
                labeled = num_feat is None or line.count('\t') + 1 == num_feat + 1
                return (offset if is_header(line, labeled) else 0), line
    return 0, None


def check_text_file(path, whole=True):
    """Raise DataError unless `path` is a non-empty UTF-8 text file; return its first non-blank
    line (None if the file has only blank lines). With whole=False, only the start of the file
    is checked, up to its first non-blank line (the caller checks the rest)."""
    if os.path.isdir(path):
        raise _error(f'{path}: is a directory, not a file; give the path of the data file')
    if not os.path.exists(path):
        raise _error(f'{path}: no such file; check the path')
    if not os.path.isfile(path):
        raise _error(f'{path}: not a regular file; give the path of the data file')
    if os.path.getsize(path) == 0:
        raise _error(f'{path}: the file is empty; expected tab-separated rows (label, then the fields)')
    decoder = codecs.getincrementaldecoder('utf-8')()
    first = None
    with open(path, 'rb') as f:
        head = f.read(8)
        for magic, what in MAGIC.items():
            if head.startswith(magic):
                raise _error(f'{path}: the file is {what}, not text; extract it first')
        f.seek(0)
        done = 0                                 # bytes before this chunk
        while True:
            chunk = f.read(CHUNK if whole else HEAD_CHUNK)
            if not chunk:
                break
            nul = chunk.find(b'\0')
            pending = len(decoder.getstate()[0])     # bytes of a character split across chunks
            if nul < 0 and not pending and first is not None and chunk.isascii():
                done += len(chunk)                   # plain ASCII: valid UTF-8, nothing to do
                continue
            try:
                text = decoder.decode(chunk if nul < 0 else chunk[:nul])
            except UnicodeDecodeError as e:
                at = max(e.start - pending, 0)
                line = 1 + _newlines(f, done) + chunk.count(b'\n', 0, at)   # only on error
                raise _error(f'{path}, line {line}: not UTF-8 text (byte 0x{chunk[at]:02x}); '
                             'convert the file to UTF-8') from None
            if nul >= 0:
                line = 1 + _newlines(f, done) + chunk.count(b'\n', 0, nul)
                raise _error(f'{path}, line {line}: binary data (a NUL byte), not text; '
                             'expected a tab-separated text file')
            if first is None:
                first = next((s for s in text.split('\n') if s.strip()), None)
            done += len(chunk)
            if first is not None and not whole:
                return first
        try:
            decoder.decode(b'', final=True)
        except UnicodeDecodeError:
            raise _error(f'{path}: not UTF-8 text (it ends inside a character); '
                         'convert the file to UTF-8') from None
    if first is None:
        raise _error(f'{path}: the file has only blank lines; expected tab-separated rows')
    return first


def _newlines(f, size):
    """Newlines in the first `size` bytes of the open file f (its position is kept)."""
    at, count = f.tell(), 0
    f.seek(0)
    while size > 0:
        piece = f.read(min(CHUNK, size))
        if not piece:
            break
        count += piece.count(b'\n')
        size -= len(piece)
    f.seek(at)
    return count


def checked_input(read_table):
    """Decorate read_table(path, num_columns) -> (frame, skipped): input checks before the
    parse, and the header line (if any) dropped after it (not counted as skipped)."""
    @functools.wraps(read_table)
    def wrapper(path, num_columns, *args, labeled=True, **kwargs):
        first = check_text_file(path)
        frame, skipped = read_table(path, num_columns, *args, **kwargs)
        effect = header_effect(first, num_columns, labeled)
        if effect == 'row':
            frame = frame.iloc[1:].reset_index(drop=True)
        return frame, skipped - (effect == 'skipped')
    return wrapper


def _content_lines(path, labeled=True):
    """(line number, text) of each non-blank line after a header line, if any (slow path)."""
    with open(path, encoding='utf-8', newline='') as f:
        seen_first = False
        for number, line in enumerate(f, 1):
            line = line.rstrip('\r\n')
            if not line:
                continue
            if not seen_first:
                seen_first = True
                if is_header(line, labeled):
                    continue
            yield number, line


def data_lines(path, num_columns):
    """(line number, fields) of each line the reader keeps as a data row, in order (slow path)."""
    for number, line in _content_lines(path):
        fields = line.split('\t')
        if len(fields) == num_columns:
            yield number, fields


def line_of_row(path, num_columns, row):
    """The line number of data row `row` (0-based) of `path`, or None."""
    for i, (number, _) in enumerate(data_lines(path, num_columns)):
        if i == row:
            return number
    return None


def first_malformed_line(path, num_columns, labeled=True):
    """(line number, field count) of the first non-blank, non-header line with the wrong count."""
    for number, line in _content_lines(path, labeled):
        count = line.count('\t') + 1
        if count != num_columns:
            return number, count
    return None, None


def enforce_strict(dataset, num_columns=None):
    """--strict: any skipped (malformed) row of `dataset` is an error naming the first one."""
    if not dataset.skipped:
        return
    num_columns = num_columns or dataset.NUM_FEATS + 1
    number, count = first_malformed_line(dataset.path, num_columns)
    raise _error(f'{dataset.path}, line {number}: {count} tab-separated fields, expected '
                 f'{num_columns} ({dataset.skipped} malformed rows in all); fix the file, or drop '
                 '--strict to skip such rows')


def check_both_classes(dataset, role='training'):
    """Raise DataError if every row of `dataset` has the same label (AUC is undefined)."""
    labels = dataset.labels
    positives = int(labels.sum())
    if positives in (0, len(labels)):
        raise _error(f'{dataset.path}: all {len(labels)} {role} rows have label '
                     f'{int(positives > 0)}; AUC is undefined and nothing can be learned: '
                     'the data needs both clicks (1) and non-clicks (0)')
