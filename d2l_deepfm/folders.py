"""Output folders as transactions: a lock for the writer, a staging place, a manifest written last.

A run folder (`train --out`) and a store (`preprocess --out`) are written like this:

    with exclusive(out, '--out'):          # one writer at a time (flock on OUT/.lock)
        with Staging(out) as stage:        # OUT/.staging-<pid>/, removed if anything fails
            ... write every result file into stage.path ...
            stage.publish('run')           # rename them into OUT, manifest.json last

`publish` first removes OUT/manifest.json, then renames the staged files into place, removes
the files of the previous result that the new one does not have, and writes the new
manifest.json (each file's size and SHA-1) last. Readers open a folder with `reading`: they
get the files only if the manifest is there and every file they read matches it; otherwise
one clear line (a DataError). So a writer that fails or is killed at any moment leaves either
the previous result, whole, or (killed inside `publish`, a few renames long) a folder that
refuses to be read until it is written again. Nothing ever reads a mix of two results.

Publishing and reading take a second lock (OUT/.publish.lock: exclusive to publish, shared to
read), so a reader never sees a publish half done. Imports nothing from the package but its
bottom floor.
"""
import contextlib
import errno
import fcntl
import glob
import hashlib
import os
import shutil

from .errors import DataError, UserError
from .files import crash_point, deferred_interrupt, read_json, write_json

MANIFEST = 'manifest.json'
LOCK, PUBLISH_LOCK, STAGING = '.lock', '.publish.lock', '.staging-'
WHOLE = 256 << 20            # files up to this size are hashed whole, larger ones sampled
SAMPLE = 1 << 20


def digest(path):
    """(size, SHA-1) of a file: of all its bytes up to WHOLE, else of 64 evenly spaced MiB
    (a store's arrays are many GiB; their size is checked exactly)."""
    size = os.path.getsize(path)
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        if size <= WHOLE:
            for piece in iter(lambda: f.read(1 << 24), b''):
                h.update(piece)
        else:
            for i in range(64):
                f.seek((size - SAMPLE) * i // 63)
                h.update(f.read(SAMPLE))
    return size, h.hexdigest()


def _sync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


KINDS = {'run': 'a training run', 'store': 'a store', 'export': 'an exported model'}


@contextlib.contextmanager
def exclusive(folder, flag='--out', kind=None):
    """Hold the folder's writer lock for the block; a second writer gets one error line, and so
    does a writer of `kind` into a folder that holds the other kind (a run into a store).
    Staging folders left by a writer that was killed are removed first."""
    if kind:
        check_kind(folder, kind, flag)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 32, 0).decode(errors='replace').strip() or '?'
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise UserError(f'{folder} is being written by another command (pid {holder}); wait '
                            f'for it to finish, or give another {flag}') from None
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        for stale in glob.glob(os.path.join(folder, STAGING + '*')):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in glob.glob(os.path.join(folder, '*', '*.tmp[0-9]*')):   # checkpoints'
            os.remove(stale)
        yield
    finally:
        os.close(fd)                   # releases the lock


def check_kind(folder, kind=None, flag='--out'):
    """Refuse (one line) to write `kind` into a folder that holds another kind of result
    (kind None: any published result: a run, a store, an export)."""
    held = published_kind(folder)
    if held is not None and held != kind:
        what = KINDS[kind] if kind else 'other files'
        raise UserError(f'{folder} holds {KINDS.get(held, held)}: writing {what} there '
                        f'would replace it; give another {flag}')


@contextlib.contextmanager
def _publish_lock(folder, shared):
    path = os.path.join(folder, PUBLISH_LOCK)
    try:                               # readers never create it (nothing was published yet)
        fd = os.open(path, os.O_RDONLY) if shared else os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Staging:
    """OUT/.staging-<pid>/: where a writer puts its result before `publish`. Leaving the
    block without publishing (an error, Ctrl-C) removes it; a kill leaves it for the next
    writer to remove (`exclusive`)."""

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, f'{STAGING}{os.getpid()}')

    def __enter__(self):
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False

    def file(self, name):
        return os.path.join(self.path, name)

    def publish(self, kind, **info):
        """Move every staged file into the folder and write the manifest naming them, last
        (Ctrl-C or SIGTERM meanwhile takes effect once it is done)."""
        names = sorted(n for n in os.listdir(self.path) if os.path.isfile(self.file(n)))
        files = {}
        for name in names:
            size, sha1 = digest(self.file(name))
            files[name] = {'bytes': size, 'sha1': sha1}
        manifest = os.path.join(self.folder, MANIFEST)
        with deferred_interrupt(), _publish_lock(self.folder, shared=False):
            old = _old_files(manifest)
            if os.path.exists(manifest):
                os.remove(manifest)
                _sync_dir(self.folder)
                crash_point()
            for name in names:
                os.replace(self.file(name), os.path.join(self.folder, name))
                crash_point()
            for name in old - set(names):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.folder, name))
            _sync_dir(self.folder)
            write_json(self.file(MANIFEST), {'kind': kind, 'files': files, **info})
            os.replace(self.file(MANIFEST), manifest)
            _sync_dir(self.folder)


def published_kind(folder):
    """The kind of result ('run', 'store') the folder's manifest names, or None."""
    try:
        doc = read_json(os.path.join(folder, MANIFEST), what='manifest')
    except DataError:
        return None
    return (doc or {}).get('kind')


def _old_files(manifest):
    try:
        doc = read_json(manifest, what='manifest')
        return set((doc or {}).get('files') or ())
    except DataError:
        return set()


UNFINISHED = {'run': 'a training run was stopped while publishing its results, or the folder was '
                     'made by an older version: continue it with --resume, or train again',
              'store': 'a preprocess was stopped while publishing the store, or the folder was made '
                       'by an older version: preprocess again'}
MISSING = {'run': "give the --out folder of a finished training run",
           'store': 'build one with python -m d2l_deepfm.preprocess'}


@contextlib.contextmanager
def reading(folder, names, kind='run', what=None):
    """Hold the folder steady while its files `names` are read; yield the manifest. Refuses
    (DataError, one line) a folder without a manifest, or whose files do not match it."""
    what = what or {'run': 'a finished training run', 'store': 'a store'}[kind]
    if not os.path.isdir(folder):
        raise DataError(f'{folder}: no such directory; {MISSING[kind]}')
    with _publish_lock(folder, shared=True):
        doc = read_json(os.path.join(folder, MANIFEST), what='manifest')
        if doc is None:
            if any(os.path.exists(os.path.join(folder, n)) for n in names):
                raise DataError(f'{folder}: incomplete (no {MANIFEST}): {UNFINISHED[kind]}')
            main = {'run': 'metrics.json', 'store': 'store.json'}[kind]
            raise DataError(f'{folder}: not {what} (no {main}, no {MANIFEST}); {MISSING[kind]}')
        files = doc.get('files')
        if doc.get('kind') != kind or not isinstance(files, dict):
            raise DataError(f'{folder}/{MANIFEST}: not the manifest of {what}; {MISSING[kind]}')
        for name in names:
            check_file(folder, name, files.get(name))
        yield doc


def published_files(folder):
    """The names of the files the folder's manifest lists (empty if there is none)."""
    return _old_files(os.path.join(folder, MANIFEST)) | {MANIFEST} if \
        os.path.isfile(os.path.join(folder, MANIFEST)) else set()


def check_file(folder, name, entry):
    """One file of a published folder against its manifest entry (DataError if it differs)."""
    path = os.path.join(folder, name)
    if not isinstance(entry, dict):
        raise DataError(f'{folder}: {name} is not part of its finished result ({MANIFEST} does '
                        'not list it)')
    if not os.path.isfile(path):
        raise DataError(f'{path}: missing, though {MANIFEST} lists it; the folder was changed '
                        'after it was written: write it again')
    if digest(path) != (entry.get('bytes'), entry.get('sha1')):
        raise DataError(f'{path}: changed since it was written (its size or SHA-1 differs from '
                        f'{MANIFEST}); it is damaged or from another run: write it again')
