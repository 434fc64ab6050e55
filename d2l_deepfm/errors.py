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
