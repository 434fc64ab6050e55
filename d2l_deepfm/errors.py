"""The package's error types (imports nothing from the package).

A `UserError` is a mistake a user can fix (bad data, conflicting options, an unusable output
folder): every command reports it as one `error:` line and exit status 2, never a traceback.
"""


class UserError(ValueError):
    """A user's mistake: reported as one line, exit status 2."""


class DataError(UserError):
    """A problem with the user's input data (a file, a row, a label)."""


class ConfigError(UserError):
    """Options that are invalid or do not go together."""


class CheckpointError(UserError):
    """An output folder or checkpoint that cannot be used as asked."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (exit status 3)."""


def run_command(fn, debug=False, target=None, handlers=()):
    """Call fn() for a command; turn a user's mistake into one `error:` line and exit status 2.

    target names the output for OSErrors without a file name; handlers is a sequence of
    (exception type, function(e) -> exit status) tried first. debug re-raises (tracebacks).
    """
    import sys
    try:
        fn()
    except Exception as e:                       # noqa: BLE001 (re-raised below if unknown)
        if debug:
            raise
        for kind, handle in handlers:
            if isinstance(e, kind):
                return handle(e)
        if isinstance(e, UserError):
            print(f'error: {e}', file=sys.stderr)
            return 2
        if isinstance(e, OSError):
            print(f'error: {e.filename or target}: {e.strerror or e}', file=sys.stderr)
            return 2
        raise
    return 0
