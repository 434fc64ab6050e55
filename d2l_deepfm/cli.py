"""What every command of the package does with errors: one line and an exit status."""
import sys

from .errors import UserError


def report_errors(run, args, target, handlers=()):
    """Call run(args); turn a user's mistake into one `error:` line and exit status 2.

    target names the output for OSErrors without a file name; handlers is a sequence of
    (exception type, function(e) -> exit status) tried first. --debug re-raises.
    """
    try:
        run(args)
    except Exception as e:                       # noqa: BLE001 (re-raised below if unknown)
        if getattr(args, 'debug', False):
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
