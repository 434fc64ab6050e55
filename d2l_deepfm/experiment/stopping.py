"""A validation set and early stopping: the reported epoch is picked on validation data, never on test.

Not in the chapter (it reports the last of its epochs, whatever the test curve did). The
validation set comes from `splits` (a held-out fraction of the training rows, or a file).
`EarlyStopping` is a `train_ch13(on_epoch=...)` hook: it tracks the validation logloss, keeps
the parameters of the best epoch, and stops after `patience` epochs without improvement.
"""
import glob
import math
import os

from ..errors import CheckpointError
from ..files import atomic_write


class EarlyStopping:
    """on_epoch hook: keep the best validation-logloss epoch's parameters; stop after `patience`
    epochs without improvement (None: never stop, only remember the best epoch).

    After training, `best_epoch` is the chosen epoch and `restore()` puts its parameters back
    into the net. They are kept in memory and, with `prefix`, also written to
    `<prefix>-epochNNNN.params` so that a run resumed from a checkpoint (`resume(history)`)
    still ends with the best epoch's parameters.
    """

    def __init__(self, net, patience=None, key='valid_logloss', prefix=None):
        if patience is not None and patience < 1:
            raise ValueError(f'patience must be a positive number of epochs, got {patience}')
        self.net, self.patience, self.key, self.prefix = net, patience, key, prefix
        self.best, self.best_epoch, self.bad_epochs, self._params = math.inf, None, 0, None

    @property
    def exhausted(self):
        """True once `patience` epochs went by without improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def _update(self, record):
        if record[self.key] < self.best:
            self.best, self.best_epoch, self.bad_epochs = record[self.key], record['epoch'], 0
            return True
        self.bad_epochs += 1
        return False

    def __call__(self, record):
        if self._update(record):
            self._params = {name: p.data().copy() for name, p in self.net.collect_params().items()}
            if self.prefix:
                self._save(record['epoch'])
        return self.exhausted

    def _path(self, epoch):
        return f'{self.prefix}-epoch{epoch:04d}.params'

    def _save(self, epoch):
        atomic_write(self._path(epoch), self.net.save_parameters)
        for old in glob.glob(f'{self.prefix}-epoch*.params'):    # older bests are not needed
            if old != self._path(epoch):
                os.remove(old)

    def resume(self, history):
        """Continue after the epochs in `history`, the net holding the last one's parameters."""
        for record in history:
            self._update(record)
        if history and self.best_epoch == history[-1]['epoch']:
            self._params = {name: p.data().copy() for name, p in self.net.collect_params().items()}
        return self

    def restore(self):
        """Put the best epoch's parameters back into the net (on every device); return the net."""
        if self._params is not None:
            for name, p in self.net.collect_params().items():
                p.set_data(self._params[name])
        elif self.best_epoch is not None:                 # resumed: the best epoch is on disk
            path = self._path(self.best_epoch) if self.prefix else None
            if not path or not os.path.isfile(path):
                raise CheckpointError(f'the parameters of the best epoch ({self.best_epoch}) are missing'
                                f'{f" ({path})" if path else ""}; train again in a new --out')
            ctx = next(iter(self.net.collect_params().values())).list_ctx()
            self.net.load_parameters(path, ctx=ctx)
        return self.net


def best_record(history, best_epoch):
    """The record of `best_epoch` (the last record if there is no best epoch)."""
    if best_epoch is None:
        return history[-1]
    return next(r for r in history if r['epoch'] == best_epoch)


def at_epoch_cap(history, best_epoch, epochs):
    """True when training ran to the epoch limit and the limit's epoch was still the best on
    validation: the validation logloss was still improving, the model may be under-trained."""
    return bool(history) and len(history) >= epochs and best_epoch == history[-1]['epoch']
