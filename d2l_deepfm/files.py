"""Safe file writing and signal handling (imports nothing from the package but its errors).

`atomic_write` is the one way the package replaces a file: a crash at any moment leaves either
the old content or the complete new one. `deferred_interrupt` holds Ctrl-C/SIGTERM back until
a block of writes is done; `sigterm_as_interrupt` makes SIGTERM stop a command like Ctrl-C
(and neither is lost inside a finalizer: `stop_if_asked`).
"""
import contextlib
import errno
import json
import os
import signal
import threading

from .errors import DataError, UserError

CRASH_AT = 'D2L_DEEPFM_CRASH_AT'          # tests: signal this process at the N-th write step
CRASH_SIGNAL = 'D2L_DEEPFM_CRASH_SIGNAL'  # KILL (default), INT (Ctrl-C) or TERM
_steps = [0]


def crash_point():
    """A write step: with the environment variable D2L_DEEPFM_CRASH_AT=N, the process sends
    itself SIGKILL (no clean-up; or the signal D2L_DEEPFM_CRASH_SIGNAL names) at the N-th step,
    so tests can stop a command at every step of its writes (tests/robustness/test_robustness.py).
    Otherwise nothing."""
    at = os.environ.get(CRASH_AT)
    if at:
        _steps[0] += 1
        if _steps[0] == int(at):
            name = os.environ.get(CRASH_SIGNAL, 'KILL')
            os.kill(os.getpid(), getattr(signal, 'SIG' + name))


def atomic_write(path, write):
    """Call write(tmp) to create a temporary file, sync it, then rename it to `path`.
    Whatever happens, `path` is either its old content or the complete new one."""
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        try:
            write(tmp)
        except Exception as e:             # noqa: BLE001 (a library's own write error, below)
            if isinstance(e, (OSError, UserError)) or type(e).__name__ != 'MXNetError':
                raise
            raise write_failed(path, e) from None
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        crash_point()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_output(path, flag, inputs=(), kind='file'):
    """Before any work: the output a user named (a file, or a folder with kind='folder') is
    not empty, not one of `inputs`, and can be written (tried: a temporary file made and
    removed where it will go, so a read-only place is found even by root). UserError if not."""
    if not isinstance(path, str) or not path.strip():
        raise UserError(f'{flag} is empty: give a {kind} name')
    real = os.path.realpath(path)
    for source in inputs:
        if source and source != '-' and os.path.realpath(source) == real:
            raise UserError(f'{flag} {path} is an input ({source}): it would be overwritten; '
                            f'give another {flag}')
    if os.path.exists(path) and os.path.isdir(path) != (kind == 'folder'):
        raise UserError(f'{flag} {path}: exists and is not a {kind}')
    at = os.path.abspath(path if kind == 'folder' else os.path.dirname(os.path.abspath(path)))
    while not os.path.exists(at):
        at = os.path.dirname(at)
    try:
        if not os.path.isdir(at):
            raise NotADirectoryError(20, 'not a folder', at)
        os.close(os.open(os.path.join(at, f'.write-test-{os.getpid()}'), os.O_CREAT | os.O_WRONLY))
        os.remove(os.path.join(at, f'.write-test-{os.getpid()}'))
        if kind == 'file' and os.path.exists(path):
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as e:
        raise UserError(f'{flag} {path}: cannot be written ({e.filename or at}: '
                        f'{e.strerror or e}); give another {flag}') from None


def write_failed(path, error):
    """The OSError (one line: errors.run_command) for a library's failed write of `path`, such
    as MXNet's `FileStream.Write incomplete` when the disk fills up."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = (lines[-1] if lines else type(error).__name__)[:160]
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
        full = st.f_bavail * st.f_frsize < 1 << 20
    except OSError:
        full = False
    why = 'the disk is full' if full else 'a full disk, a file size limit or an I/O error'
    return OSError(errno.ENOSPC if full else errno.EIO, f'could not be written ({why}: {detail})', path)


def write_text(path, text):
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    atomic_write(path, write)


def write_json(path, doc, indent=1):
    """doc as JSON at `path`, atomically (indent=None: one line, from the C encoder)."""
    write_text(path, json.dumps(doc, indent=indent))


def read_json(path, what='file', error=DataError, missing_ok=True):
    """The JSON document at `path` (None if it is missing and missing_ok); anything unreadable
    or not a JSON object is `error` with one line naming the file."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise error(f'{path}: no such file') from None
    except (OSError, ValueError) as e:
        raise error(f'{path}: unreadable {what} ({type(e).__name__}: {str(e)[:120]}); '
                    'it is damaged: delete it or start over in a new folder') from None
    if not isinstance(doc, dict):
        raise error(f'{path}: unreadable {what} (a JSON {type(doc).__name__}, expected an object)')
    return doc


@contextlib.contextmanager
def deferred_interrupt():
    """Ctrl-C or SIGTERM during the block takes effect when the block is done (as
    KeyboardInterrupt), so a group of files is always written completely."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    signals = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda number, frame: caught.append(number)) for s in signals}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if caught:
            raise KeyboardInterrupt


_stop_asked = threading.Event()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (pre-emption, `kill`) stops the command like Ctrl-C: cleanly. Both raise
    KeyboardInterrupt where the program is, except inside a finalizer (`__del__`, e.g. MXNet's
    NDArray freeing itself), where Python would print the exception and drop it: there the stop
    is only recorded, and `stop_if_asked()` raises it at the next safe point."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number, frame):
        _stop_asked.set()
        if frame is None or frame.f_code.co_name != '__del__':
            raise KeyboardInterrupt
    _stop_asked.clear()
    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def stop_if_asked():
    """KeyboardInterrupt if Ctrl-C or SIGTERM came where it could not be raised (a finalizer)."""
    if _stop_asked.is_set():
        raise KeyboardInterrupt
