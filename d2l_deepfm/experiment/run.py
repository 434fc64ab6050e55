"""One run, from a `RunConfig`: data -> models -> train_ch13 -> report, into the output folder.

    from d2l_deepfm.experiment.config import RunConfig
    from d2l_deepfm.experiment.run import run
    doc = run(RunConfig())          # what `python -m d2l_deepfm.train` does

Writes the run folder `config.output.out` (default: a new one under runs/; file names:
run_folder.RunFolder), a checkpoint after every epoch (--resume: experiment.checkpoints), and
lines in the runs root's results table. With a validation set, `final` is the test record of
the best validation epoch and the saved parameters are that epoch's.
"""
import contextlib
import dataclasses
import os
import platform
import shutil
import time

import mxnet as mx

from .. import __version__, folders, run_folder, training
from ..mapping import save_feature_map
from ..errors import ConfigError, TrainingDiverged
from ..files import atomic_write, check_output, stop_if_asked, write_json
from ..models import build_model
from .. import kernels, sparse
from ..distributed.cluster import Cluster
from ..run_folder import RunFolder
from . import calibration, report, results as table
from .baseline import train_lr
from .checkpoints import ModelCheckpoint, Run, resume_settings
from .devices import parse_devices  # noqa: F401 (predict imports it from here)
from .memory import check_fits
from .splits import load_data
from .stats import comparisons
from .stopping import EarlyStopping, at_epoch_cap, best_record
from .tuning import pick_penalties

def train_one(name, train, test, config, devices, log=print, valid=None, seed=None, tag=None,
              cluster=None, save=True, penalties=None, results=None):
    """Train one model with one seed; with a validation set, `final` is the test record of the
    best validation epoch (`best_epoch`) and the saved parameters are that epoch's. `tag` names
    its checkpoint and file (RunFolder.tag); save=False writes neither (--wd auto's trials);
    penalties: {wd, wd_embedding} replacing the config's; results: the staging folder."""
    cluster = cluster or Cluster()
    seed = config.train.seed if seed is None else seed
    tag = tag or name
    t, out = config.train, config.output.out
    folder = RunFolder(results or out)
    if name == 'lr':              # saved (lr.npz) for predict and export
        path = folder.model(tag) if cluster.writes_outputs and save else None
        return {**train_lr(train, test, valid, path=path), 'seed': seed}
    settings = config.model_settings(name, len(train), **(penalties or {}))
    setting = config.model.sparse_grad
    if cluster.distributed and setting == 'auto':
        setting = 'off'       # row-sparse gradients through parameter servers: opt-in only (untested)
    if sparse.choose(setting, int(train.field_dims.sum())):
        settings['sparse_grad'] = True       # recorded only when on: the chapter's config is unchanged
        log(f'{name}: row-sparse embedding gradients, lazy Adam (--sparse-grad {config.model.sparse_grad})')
    compiled = kernels.choose(t.kernels, devices, log)      # the same numbers, another speed
    rng = training.seed_everything(seed)
    net = training.initialize(build_model(name, train.field_dims, settings, compiled), devices)
    trainer = training.make_trainer(net, settings['lr'], kvstore=cluster.kvstore,
                                    wd=settings.get('wd', 0.0),
                                    wd_embedding=settings.get('wd_embedding'))
    # no checkpoints with a distributed kvstore: Adam's state lives on the servers
    checkpoint = None if cluster.distributed or not save else ModelCheckpoint(out, tag)
    history = checkpoint.restore(net, trainer, devices, settings) \
        if config.output.resume and checkpoint else []
    if history:
        log(f'{tag}: resuming after epoch {len(history)}')
    save_epoch = checkpoint.on_epoch(net, trainer, history, settings) if checkpoint else None
    stopper = None
    if valid is not None:         # keeps the best epoch's parameters (on disk too, for --resume)
        prefix = RunFolder(out).best_prefix(tag) if checkpoint else None
        stopper = EarlyStopping(net, t.patience, prefix=prefix).resume(history)

    def on_epoch(record):
        if save_epoch is not None:
            save_epoch(record)
        stop_if_asked()               # a Ctrl-C that came inside a finalizer: stop here
        return stopper is not None and stopper(record)
    epochs = len(history) if stopper is not None and stopper.exhausted else t.epochs
    batch_size = config.batch_size(len(train))    # the default protocol's scales with the rows
    batches = cluster.batches(train, batch_size, rng, config.data.block_rows, seed=seed)
    history = training.train_ch13(net, train, test, training.make_loss(config.model.loss), trainer,
                                  epochs, devices, rng, batch_size=batch_size,
                                  progress=config.output.progress, desc=tag,
                                  history=history, valid_data=valid, on_epoch=on_epoch, seed=seed,
                                  batches=batches)
    result = {'config': settings, 'kernels': kernels.path_name(compiled), 'seed': seed,
              'epochs': history, 'final': history[-1], 'batch_size': batch_size}
    if stopper is not None:
        stopper.restore()
        capped = at_epoch_cap(history, stopper.best_epoch, t.epochs)
        result.update(final=best_record(history, stopper.best_epoch), best_epoch=stopper.best_epoch,
                      at_epoch_cap=capped)
        log(f'{name} (seed {seed}): best validation logloss {stopper.best:.4f} at epoch '
            f'{stopper.best_epoch} of {len(history)}' + (
                f'; warning: stopped at the epoch limit ({t.epochs}) while the validation logloss '
                'was still improving: not converged (more --epochs or a larger --lr)' if capped else ''))
    test_pred = training.predict(net, test.features, devices)
    result['calibration'] = calibration.summarize(test.labels, test_pred)
    if cluster.writes_outputs and save:
        atomic_write(folder.model(tag), net.save_parameters)
        result['test_pred'] = test_pred           # for the intervals (not in metrics.json)
    return result


def versions():        # for config.json
    return {'d2l_deepfm': __version__, 'mxnet': mx.__version__, 'python': platform.python_version()}


def train_models(config, train, valid, test, devices, cluster, tags, log, results=None):
    """{model: [result per seed]} and the --wd auto trials ({model: ...})."""
    runs, tuning = {}, {}
    seeds = config.seeds
    for name in config.model.names:
        penalties = None
        if config.model.wd == 'auto' and name != 'lr':
            def trial(wd, wd_embedding, name=name):
                quiet = config.replace(output=dataclasses.replace(config.output, progress=False))
                return train_one(name, train, test, quiet, devices, lambda *a, **k: None,
                                 valid=valid, seed=seeds[0], save=False,
                                 penalties={'wd': wd, 'wd_embedding': wd_embedding})
            tuning[name] = pick_penalties(name, trial, len(train), config.model.wd_embedding,
                                          log, seeds[0])
            penalties = tuning[name]['chosen']
        runs[name] = [train_one(name, train, test, config, devices, log, valid=valid, seed=seed,
                                tag=tags[name, seed], cluster=cluster, penalties=penalties,
                                results=results)
                      for seed in seeds]
    preds = {name: [r.pop('test_pred') for r in rs] for name, rs in runs.items()
             if all('test_pred' in r for r in rs)}
    return runs, tuning, preds


def run(config, log=print):
    """Train the config's models; write the run folder (a transaction: folders.py, locked, results
    staged and published together at the end); return metrics.json's document."""
    with contextlib.ExitStack() as stack:    # out None: a new folder under runs/
        out = stack.enter_context(run_folder.allocated(config.output.out))
        return _run(config.replace(output=dataclasses.replace(config.output, out=out)), log, stack)


def _run(config, log, stack):
    start = time.perf_counter()
    config.check()
    out, names, seeds = config.output.out, config.model.names, config.seeds
    cluster = Cluster(config.train.kvstore)
    checkpoints = stage = None
    if not cluster.writes_outputs:        # workers other than rank 0 train and write nothing
        log = lambda *a, **k: None        # noqa: E731
    else:                                 # the outputs checked before any work
        check_output(out, '--out', config.input_files, 'folder')
        check_output(config.results_path, '--results', config.input_files + (out,))
        stack.enter_context(folders.exclusive(out, '--out', 'run'))
        stage = stack.enter_context(folders.Staging(out))
        staged = RunFolder(stage.path)
        checkpoints = Run(out)          # every writer of a run folder: launch's rank 0 too
        checkpoints.begin(config.output.resume, log, config.train.epochs)
        if cluster.distributed:         # no checkpoints of its own (Adam's state is on the servers)
            stale, checkpoints = checkpoints, None
    train, valid, test, info = load_data(config, log)
    if config.train.patience and valid is None and config.train.protocol != 'default':
        raise ConfigError(f'--patience needs a validation set: {config.data.store} has no '
                          'validation split')
    if config.model.wd == 'auto' and valid is None and names != ('lr',):
        raise ConfigError('--wd auto picks the penalties on a validation set: add --valid FILE or '
                          '--valid-fraction F')
    info['checksums'], info['data_sha1'] = run_folder.data_checksums(     # the data's contents
        [info.get(k) for k in ('train', 'test', 'valid')] + [config.data.store and os.path.join(
            config.data.store, folders.MANIFEST)])
    if cluster.writes_outputs:
        write_json(staged.config,
                   {**config.to_dict(), 'digest': config.digest(), 'data_files': info,
                    'versions': versions()})
        recorded = {k: info[k] for k in ('format', 'layout') if k in info}    # a store: no layout
        hashed = getattr(train, 'hash_buckets', None)       # the hashing trick, for predict
        save_feature_map(staged.feature_map, train, min_threshold=None if hashed
                         else config.data.min_threshold, **{'format': 'd2l', **recorded,
                                                            **({'hash_buckets': hashed} if hashed else {})})
    devices = parse_devices(config.train.devices)
    log(f'devices: {devices}' + (f', kvstore {cluster.name}: {cluster.num_workers} workers'
                                 if cluster.distributed else ''))
    # the first seed's model is <name> (<name>.params), the others' <name>-seed<s>
    tags = {(name, seed): RunFolder.tag(name, i, seed)
            for name in names for i, seed in enumerate(seeds)}
    for name in set(names) - {'lr'}:       # sizes checked before anything is allocated or recorded
        check_fits(name, int(train.field_dims.sum()), config.model_settings(name, len(train)),
                   devices, len(train.field_dims), config.batch_size(len(train)))
    if checkpoints:
        checkpoints.start(config.output.resume, resume_settings(config, info, train, valid, test),
                          [t for (n, _), t in tags.items() if n != 'lr'], config.train.epochs)
    try:
        runs, tuning, preds = train_models(config, train, valid, test, devices, cluster, tags, log,
                                           stage.path if stage else None)
    except TrainingDiverged:
        if checkpoints:
            checkpoints.finish('diverged')
        raise
    if not cluster.writes_outputs:
        return None
    doc = report.metrics_document(config, runs, tuning, info, devices, cluster, seeds)
    doc['sample_notes'] = report.sample_notes(valid, test)     # sets too small for a verdict
    if 0 < test.labels.sum() < len(test.labels):   # 95% intervals: test rows (and seeds)
        doc['comparison'] = comparisons(test.labels, preds)
    doc['wall_seconds'] = time.perf_counter() - start
    write_json(staged.metrics, doc)
    curves = report.save_figure(staged.convergence, doc, names)
    calibration.write_figure(staged.calibration, {n: doc[n] for n in names}, info['source'],
                             config.model.loss, log)
    stage.publish('run', config_digest=config.digest())
    if checkpoints:
        checkpoints.finish('done')
    elif cluster.distributed:           # a finished run's checkpoints, replaced: not this run's
        shutil.rmtree(stale.folder, ignore_errors=True)
    if not run_folder.mark_latest(out):
        log(f'note: {run_folder.root_of(out)}/latest is a run folder itself: not pointed at this run')
    moved = table.append(config.results_path, table.rows_of(doc, out, ' '.join(config.command or []),
                                                             config.digest()))
    log('\n' + report.format_run(doc, names, config.train.protocol, seeds))
    saved = ([RunFolder.CONVERGENCE] if curves else []) + [RunFolder.CALIBRATION] + [
        RunFolder.model_name(t) for t in tags.values()] + [RunFolder.FEATURE_MAP, RunFolder.CONFIG]
    log(f"\nwrote {out}/{RunFolder.METRICS}, {', '.join(saved)}; "
        f"its lines in {config.results_path}" + (f' (an older one kept as {moved})' if moved else '')
        + f" ({time.perf_counter() - start:.1f} s); every run: python -m d2l_deepfm.runs")
    return doc

