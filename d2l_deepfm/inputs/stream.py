"""A large file in any layout, block by block, for the store (`preprocess`): the text is read as
a stream (gzip'd or not, or standard input) in blocks of whole lines, and each block is parsed by
`reader.parse` with the layout resolved on the first block: a header line is carried to every
later block, and line numbers in messages count from the start of the file.

Plain tab-separated files in the d2l and Criteo layouts do not come here: the store reads them
in parallel byte ranges with its byte scanner (`store/blocks.py`; `reader.fast_path` decides).
"""
from . import reader
from .text import NEWLINE, stream_blocks, text_checks


def parsed_blocks(path, request, block_bytes):
    """reader.Rows of each block of `path` (labels, tokens, skipped, layout), in file order."""
    name = '<stdin>' if path == '-' else path
    layout, header, seen = request, None, False
    for first_line, raw in stream_blocks(path, block_bytes):
        text_checks(name, raw, first_line - 1, empty_ok=True)
        if not raw.strip():
            continue
        if not seen:
            rows = reader.parse(name, raw, layout, line_base=first_line - 1, empty_ok=True)
            layout, seen = rows.layout, True
            if layout.header:
                header = next(line for line in raw.splitlines(keepends=True) if line.strip())
                header = header if header.endswith(NEWLINE) else header + NEWLINE
        else:
            text = header + raw if header else raw
            rows = reader.parse(name, text, layout, line_base=first_line - 1 - bool(header),
                                 empty_ok=True, has_header=bool(header))
        yield rows
    if not seen:
        text_checks(name, b'')                       # the file is empty
