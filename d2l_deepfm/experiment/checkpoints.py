"""Checkpoints in --out: after every epoch, what a run needs to continue exactly, written safely.

Layout of `OUT/checkpoints/`:
  run.json                 the run: status ('running', 'done', 'diverged'), epochs, settings
  <model>.json             the model's last complete epoch: history so far, config, file names
  <model>-epochNNNN.params Gluon parameters after that epoch (`net.save_parameters`)
  <model>-epochNNNN.states Adam's state, learning rate and step count (`trainer.save_states`)

Every file is written to a temporary name, flushed to disk, then renamed over the old one, and
`<model>.json` is replaced only after the epoch's .params and .states are complete: a crash at
any moment leaves the previous complete epoch in place. MXNet 1.x cannot save its random
generators, so `training.train_ch13(seed=...)` re-seeds every epoch from (seed, epoch): with
the same seed, a resumed run ends with the same numbers as an uninterrupted one.
"""
import glob
import hashlib
import os

import numpy as np

from ..errors import CheckpointError
from ..files import atomic_write, deferred_interrupt, read_json as _read_json, write_json
from ..run_folder import RunFolder


def read_json(path):
    """A checkpoint's JSON document (None if missing); a damaged one is a CheckpointError."""
    return _read_json(path, what='checkpoint', error=CheckpointError)


def resume_settings(config, info, train, valid=None, test=None):
    """What a resumed run must share with the run it continues (checkpoints.Run): the
    settings, and a digest of the mapped data (same rows, same order, same feature map)."""
    d, m, t = config.data, config.model, config.train
    return {'batch_size': t.batch_size, 'loss': m.loss, 'seed': t.seed,
            'min_threshold': d.min_threshold, 'format': d.format,
            'train_rows': info['train_rows'], 'test_rows': info['test_rows'],
            'seeds': t.seeds, 'valid': d.valid, 'valid_fraction': d.valid_fraction,
            'patience': t.patience, 'wd': m.wd, 'wd_embedding': m.wd_embedding,
            'field_dims_sha1': hashlib.sha1(train.field_dims.tobytes()).hexdigest(),
            **{k: getattr(d, k) for k in ('label', 'drop', 'numeric', 'test_fraction') if getattr(d, k)},
            'data_sha1': data_digest(train, valid, test)}


def data_digest(*datasets):
    """SHA-1 of the mapped data (features and labels of each dataset given, in order): a
    resumed run must see the same rows, in the same order, under the same feature map."""
    h = hashlib.sha1()
    for data in datasets:
        if data is None:
            continue
        for array in (data.features, data.labels):
            h.update(str((array.shape, array.dtype.str)).encode())
            step = max(1, (64 << 20) // max(1, array[:1].nbytes))      # 64 MiB at a time
            for i in range(0, len(array), step):
                h.update(np.ascontiguousarray(array[i:i + step]).data)
    return h.hexdigest()


def signature(net):
    """Parameter names and shapes in the Trainer's order (optimizer states follow this order)."""
    return [[name, list(p.shape)] for name, p in sorted(net.collect_params().items())]


class ModelCheckpoint:
    """The checkpoint of one model (`fm`, `deepfm`) in one output folder."""

    def __init__(self, out, name):
        self.run = RunFolder(out)
        self.folder, self.name = self.run.checkpoints, name
        self.pointer = self.run.checkpoint(name)

    def load(self):
        """The checkpoint document, or None when there is none (one with missing or ill-typed
        entries is a CheckpointError)."""
        doc = read_json(self.pointer)
        if doc is not None:
            kinds = {'epoch': int, 'params': str, 'states': str, 'config': dict,
                     'signature': list, 'history': list}
            bad = [k for k, kind in kinds.items() if not isinstance(doc.get(k), kind)]
            if bad or len(doc['history']) != doc['epoch'] or \
                    not all(isinstance(r, dict) for r in doc['history']):
                raise CheckpointError(f'{self.pointer}: not a complete checkpoint ('
                                      f'{", ".join(bad) or "history"} missing or wrong); delete '
                                      f'{self.folder} to start over')
        return doc

    def on_epoch(self, net, trainer, history, config):
        """A `train_ch13` on_epoch hook: checkpoint after every epoch; never stops training."""
        history = list(history)

        def hook(record):
            history.append(record)
            self.save(net, trainer, history, config)
            return False
        return hook

    def save(self, net, trainer, history, config):
        os.makedirs(self.folder, exist_ok=True)
        params, states = RunFolder.epoch_files(self.name, history[-1]['epoch'])
        with deferred_interrupt():
            atomic_write(os.path.join(self.folder, params), net.save_parameters)
            atomic_write(os.path.join(self.folder, states), trainer.save_states)
            write_json(self.pointer, {'model': self.name, 'epoch': history[-1]['epoch'],
                                      'params': params, 'states': states, 'config': config,
                                      'signature': signature(net), 'history': history})
            for old in glob.glob(self.run.epoch_pattern(self.name)):
                if os.path.basename(old) not in (params, states):
                    os.remove(old)

    def restore(self, net, trainer, devices, config):
        """Load the last complete epoch into net and trainer; return its history ([] if none)."""
        doc = self.load()
        if doc is None:
            return []
        if doc['config'] != config:
            changed = ', '.join(f'{k} {doc["config"].get(k)} (now {v})' for k, v in config.items()
                                if doc['config'].get(k) != v)
            raise CheckpointError(f'{self.pointer}: {self.name} was trained with {changed}; resume '
                                  'with the same options, or use another --out')
        if doc['signature'] != signature(net):
            raise CheckpointError(f'{self.pointer}: the saved {self.name} has other parameters than '
                                  'this model; use another --out')
        for key in ('params', 'states'):
            if not os.path.isfile(os.path.join(self.folder, doc[key])):
                raise CheckpointError(f'{self.pointer}: {doc[key]} is missing; delete '
                                      f'{self.folder} to start over')
        import pickle

        import mxnet as mx
        try:
            net.load_parameters(os.path.join(self.folder, doc['params']), ctx=devices)
            trainer.load_states(os.path.join(self.folder, doc['states']))
        except (mx.MXNetError, ValueError, AssertionError, OSError, EOFError,
                pickle.UnpicklingError) as e:
            raise CheckpointError(f'{self.pointer}: the saved files are damaged ({type(e).__name__}); '
                                  f'delete {self.folder} to start over') from e
        return doc['history']


class Run:
    """The run in one output folder: refuses to overwrite an unfinished run without --resume,
    refuses to resume with settings that would not continue the same run."""

    def __init__(self, out):
        self.out, self.run = out, RunFolder(out)
        self.folder, self.path = self.run.checkpoints, self.run.run_record

    def state(self):
        state = read_json(self.path)
        if state is not None and not (isinstance(state.get('status'), str)
                                      and isinstance(state.get('settings', {}), dict)
                                      and isinstance(state.get('models', []), list)):
            raise CheckpointError(f'{self.path}: not a run record of this package; delete '
                                  f'{self.folder} to start over')
        return state

    def progress(self):
        """'fm epoch 3 of 30, deepfm epoch 0 of 30' from the checkpoints on disk."""
        try:
            return self._progress()
        except CheckpointError:
            return 'the checkpoints are unreadable'

    def _progress(self):
        state = self.state() or {}
        names = state.get('models') or self.run.checkpoint_tags()
        parts = []
        for name in names:
            doc = ModelCheckpoint(self.out, name).load()
            parts.append(f"{name} epoch {doc['epoch'] if doc else 0} of {state.get('epochs', '?')}")
        return ', '.join(parts) or 'no complete epoch'

    def begin(self, resume, log=print, epochs=None):
        """Before any work: without --resume, an unfinished run in --out is an error; with it,
        say once what will happen: start from scratch (nothing recorded), continue the
        unfinished run, or extend a finished one (to more --epochs: fewer is an error, and
        run.json stays as it is)."""
        state = self.state()
        status = None if state is None else state.get('status')
        if status == 'running' and not resume:
            raise CheckpointError(f'{self.out} holds an unfinished run ({self.progress()}); '
                                  f'continue it with --resume, or use another --out (or delete '
                                  f'{self.folder} to start over)')
        if not resume:
            return
        if status is None:
            log(f'note: nothing to resume in {self.out}; starting from scratch')
            return
        done, what = state.get('epochs'), {'running': 'unfinished', 'done': 'finished'}.get(status, status)
        if status != 'running' and isinstance(done, int) and epochs is not None and epochs < done:
            raise CheckpointError(f'{self.out} holds a {what} run of --epochs '
                                  f'{done}; --resume continues it to more epochs, not {epochs}: '
                                  'give --epochs of at least that, or train without --resume to '
                                  'replace it')
        log(f'note: {self.out}: continuing the {what} run ({self.progress()}) up to --epochs {epochs}')

    def start(self, resume, settings, models, epochs):
        """Record the run; with --resume, check it continues the same run."""
        state = self.state()
        if resume and state is not None:
            old = state.get('settings', {})
            changed = [f'{k} {old.get(k)!r} (now {v!r})' if k != 'data_sha1' else
                       'other data (its mapped rows differ: another file, the rows in another '
                       'order, or another feature map)' for k, v in settings.items()
                       if old.get(k) != v]
            if changed:
                raise CheckpointError(f'{self.path}: the run was made with {", ".join(changed)}; '
                                      'resume with the same options and data, or use another --out')
        elif os.path.isdir(self.folder):
            for path in glob.glob(os.path.join(self.folder, '*')):     # a finished run: replaced
                os.remove(path)
        os.makedirs(self.folder, exist_ok=True)
        write_json(self.path, {'status': 'running', 'models': list(models), 'epochs': epochs,
                               'settings': settings})

    def finish(self, status='done'):
        state = self.state()
        if state is not None:
            write_json(self.path, {**state, 'status': status})
