"""Writing .npy files of unknown length, block by block (the store's arrays)."""
import io
import os

import numpy as onp

from ..files import crash_point


def bytes_of(array):
    """The bytes of a C-contiguous array, without a copy."""
    return memoryview(array.reshape(-1)).cast('B')


def npy_header(dtype, shape):
    """The bytes numpy writes before an array's data (np.save, open_memmap)."""
    out = io.BytesIO()
    onp.lib.format._write_array_header(out, {'descr': onp.lib.format.dtype_to_descr(dtype),
                                             'fortran_order': False, 'shape': shape})
    return out.getvalue()


class NpyWriter:
    """Append rows to a temporary .npy file; `close` writes the header for the final number of
    rows and renames the file into place.

    Room for the header is left at the start (as long as a header for 10**15 rows, which is
    the length of every header of fewer rows: numpy pads headers to 64 bytes); if it ever is
    not, `close` moves the rows. Plain file writes, not a memory map: written pages stay in the
    page cache and do not count in this process's resident memory."""

    def __init__(self, path, dtype, width=None):
        self.path, self.dtype, self.width, self.rows = path, onp.dtype(dtype), width, 0
        self.tmp = path + '.part'
        self.offset = len(npy_header(self.dtype, self._shape(10 ** 15)))
        self.file = open(self.tmp, 'w+b')
        self.file.write(b'\0' * self.offset)

    def _shape(self, rows):
        return (rows,) if self.width is None else (rows, self.width)

    def write(self, array):
        self.write_raw(array, len(array))

    def write_raw(self, array, rows):
        """Write `rows` rows' worth of bytes of `array`, in its own layout (rewritten later)."""
        self.file.write(bytes_of(onp.ascontiguousarray(array, dtype=self.dtype)))
        self.rows += rows

    def abandon(self):
        """Close and remove the unfinished file (nothing partial is left behind)."""
        self.file.close()
        os.remove(self.tmp)

    def close(self):
        header = npy_header(self.dtype, self._shape(self.rows))
        if len(header) == self.offset:
            self.file.seek(0)
            self.file.write(header)
            self.file.close()
        else:                                   # never with numpy's 64-byte padding
            self.file.close()
            moved = self.tmp + '2'
            with open(moved, 'wb') as out, open(self.tmp, 'rb') as src:
                out.write(header)
                src.seek(self.offset)
                for piece in iter(lambda: src.read(1 << 24), b''):
                    out.write(piece)
            os.replace(moved, self.tmp)
        os.replace(self.tmp, self.path)
        crash_point()
