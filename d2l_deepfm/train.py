"""python -m d2l_deepfm.train: train FM and/or DeepFM as in the chapter and compare them.

Reads train.csv/test.csv in the chapter's layout (default: d2l's ctr data, or a synthetic
stand-in when offline), or raw Criteo files (--format criteo), trains with the chapter's
settings unless told otherwise, and writes into --out: metrics.json, convergence.png,
<model>.params and feature_map.json, plus a checkpoint after every epoch (--resume continues
from it; see checkpoints.py). Optional: a validation set with early stopping
(--valid-fraction/--valid, --patience), several seeds (--seeds), a logistic-regression
baseline (--model lr or all).
"""
import argparse
import os
import sys
import time

from .inputs.layout import FORMATS

MODELS = ('fm', 'deepfm')
MODEL_SETS = {'both': MODELS, 'all': MODELS + ('lr',)}     # lr: the baseline (d2l_deepfm.baseline)
# The chapter's settings for each model.
CHAPTER = {'fm': {'num_factors': 20, 'lr': 0.02},
           'deepfm': {'num_factors': 10, 'lr': 0.01, 'mlp_dims': [30, 20, 10], 'dropout': 0.1}}


def int_list(text):
    try:
        dims = [int(d) for d in text.split(',') if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}')
    if not dims or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f'expected positive integers, got {text!r}')
    return dims


def positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected a number, got {text!r}')
        if value <= 0:
            raise argparse.ArgumentTypeError(f'expected a positive number, got {text!r}')
        return value
    return parse


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}')
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'expected a fraction between 0 and 1, got {text!r}')
    return value


def penalty(text):
    """--wd: a positive number, or 'auto' (picked on the validation set)."""
    return text if text == 'auto' else positive(float)(text)


def seed_list(text):
    try:
        seeds = [int(d) for d in text.split(',') if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integer seeds, got {text!r}')
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f'expected distinct seeds, got {text!r}')
    return seeds


def name_list(text):
    names = [n.strip() for n in text.split(',') if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f'expected comma-separated column names, got {text!r}')
    return names


def parse_devices(text):
    import mxnet as mx
    devices = []
    for name in text.split(','):
        kind, _, index = name.strip().partition(':')
        if kind not in ('cpu', 'gpu') or not (index or '0').isdigit():
            raise argparse.ArgumentTypeError(f'expected devices like cpu:0,cpu:1 or gpu:0, got {text!r}')
        devices.append(getattr(mx, kind)(int(index or 0)))
        if kind == 'gpu' and devices[-1].device_id >= mx.context.num_gpus():
            raise argparse.ArgumentTypeError(f'no {name.strip()}: this machine has '
                                             f'{mx.context.num_gpus()} GPUs')
    return devices


def build_parser():
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.train', description=__doc__.split('\n')[0])
    p.add_argument('--model', choices=('fm', 'deepfm', 'lr', 'both', 'all'), default='both',
                   help='both: FM and DeepFM; lr: the logistic-regression baseline; all: the three')
    p.add_argument('--data-dir', help='folder with train.csv and test.csv in the chapter layout '
                   '(default: data/ctr, downloaded if missing, else synthetic data)')
    p.add_argument('--data-root', default='data', help='where the default data is cached (default: data)')
    p.add_argument('--no-download', action='store_true', help='do not try to download ctr.zip')
    p.add_argument('--format', choices=FORMATS, default='d2l',
                   help="d2l: the chapter's layout; criteo: Kaggle Criteo rows (tab-separated, or CSV "
                   'with a header); csv, tsv: a table with a header line; avazu: Avazu\'s CSV (id '
                   'dropped, hour -> hour of day and day of week). gzip\'d files are read as they are')
    p.add_argument('--label', metavar='COL', help='the label column (default: label, click or y, any case)')
    p.add_argument('--drop', type=name_list, metavar='COLS', help='columns to ignore (e.g. ids; '
                   "shell patterns such as 'id*' too)")
    p.add_argument('--numeric', type=name_list, metavar='COLS', help='numeric columns, binned as the '
                   "Criteo winners did (floats accepted; 'I*' too); every other column is categorical")
    p.add_argument('--train', metavar='FILE', help='training file (instead of --data-dir)')
    p.add_argument('--test', metavar='FILE', help='test file (or --test-fraction)')
    p.add_argument('--test-fraction', type=fraction, metavar='F',
                   help='without --test: hold out this fraction of --train (seeded) as the test set')
    p.add_argument('--valid', metavar='FILE', help='validation file: pick the epoch on it')
    p.add_argument('--valid-fraction', type=fraction, metavar='F',
                   help='hold out this fraction of the training rows (seeded) as the validation set')
    p.add_argument('--patience', type=positive(int), metavar='N',
                   help='stop when the validation logloss has not improved for N epochs')
    p.add_argument('--seeds', type=seed_list, metavar='0,1,2',
                   help='train each model once per seed; report mean ± std (overrides --seed)')
    p.add_argument('--epochs', type=positive(int), default=30)
    p.add_argument('--batch-size', type=positive(int), default=2048)
    p.add_argument('--lr', type=positive(float), help='learning rate (chapter: FM 0.02, DeepFM 0.01)')
    p.add_argument('--num-factors', type=positive(int), help='embedding size (chapter: FM 20, DeepFM 10)')
    p.add_argument('--mlp-dims', type=int_list, help='DeepFM hidden layers (chapter: 30,20,10)')
    p.add_argument('--dropout', type=float, help='DeepFM dropout rate (chapter: 0.1)')
    p.add_argument('--wd', type=penalty, help='L2 weight decay (Adam wd) for FM and DeepFM (not in '
                   "the chapter: none); 'auto': pick it and --wd-embedding on the validation set "
                   '(tuning.py)')
    p.add_argument('--wd-embedding', type=positive(float), metavar='WD',
                   help='L2 weight decay of the factor embedding v_i instead of --wd (not in the chapter)')
    p.add_argument('--min-threshold', type=positive(int), default=4,
                   help='values seen fewer times in training map to the field default (chapter: 4)')
    p.add_argument('--loss', choices=('fixed', 'chapter'), default='fixed',
                   help="'chapter' reproduces the text's double sigmoid (see README)")
    p.add_argument('--sparse-grad', choices=('auto', 'on', 'off'), default='auto',
                   help='row-sparse embedding gradients with lazy Adam (auto: from 300,000 '
                        'features, where they are faster; see docs/performance.md)')
    p.add_argument('--devices', type=parse_devices,
                   help='e.g. cpu:0,cpu:1 or gpu:0,gpu:1 (default: every GPU, else the CPU)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data-store', help='a store written by python -m d2l_deepfm.preprocess '
                   '(memory-mapped, read in shuffled blocks; replaces --data-dir)')
    p.add_argument('--block-rows', type=positive(int), default=1 << 20,
                   help='rows read at a time from --data-store (default 1048576)')
    p.add_argument('--kvstore', default='device',
                   choices=('device', 'local', 'dist_sync', 'dist_async', 'dist_device_sync'),
                   help='Gluon kvstore; dist_* run under python -m d2l_deepfm.launch, one '
                   'shard per worker, outputs from rank 0 (default device)')
    p.add_argument('--out', default='runs/latest', help='output folder (default: runs/latest)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --out from its last complete epoch')
    p.add_argument('--strict', action='store_true',
                   help='a malformed row is an error (default: skipped, counted and reported)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars or per-epoch lines')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def model_config(name, args):
    cfg = dict(CHAPTER[name])
    for key in ('num_factors', 'lr', 'mlp_dims', 'dropout'):
        value = getattr(args, key)
        if value is not None and key in cfg:
            cfg[key] = value
    if getattr(args, 'wd', None) is not None:        # penalties: not in the chapter, recorded
        cfg['wd'] = args.wd                           # only when given
    if getattr(args, 'wd_embedding', None) is not None:
        cfg.update(wd=cfg.get('wd', 0.0), wd_embedding=args.wd_embedding)
    return cfg


def build_model(name, field_dims, cfg):
    import mxnet as mx

    from .models import FM, DeepFM
    # Fresh name counters: the same parameter names (and optimizer-state order) in every
    # process, whatever was built before, so that checkpoints load into the right places.
    sparse_grad = cfg.get('sparse_grad', False)
    with mx.name.NameManager():
        if name == 'fm':
            return FM(field_dims, cfg['num_factors'], sparse_grad=sparse_grad)
        return DeepFM(field_dims, cfg['num_factors'], cfg['mlp_dims'], cfg['dropout'],
                      sparse_grad=sparse_grad)


def load_data(args, log):
    """(train, valid, test, info); valid is None without --valid or --valid-fraction (or a
    store's validation split)."""
    from .data import default_data, has_ctr_files
    from .errors import DataError
    from .splits import load_splits
    if args.valid and args.valid_fraction:
        raise DataError('give --valid FILE or --valid-fraction F, not both')
    if getattr(args, 'data_store', None):
        given = [f for f, v in (('--label', args.label), ('--drop', args.drop), ('--numeric', args.numeric),
                                ('--test-fraction', args.test_fraction)) if v]
        if given:
            from .errors import ConfigError
            raise ConfigError(f'{", ".join(given)} do not apply to --data-store (the store records its '
                              'layout and splits): give them to python -m d2l_deepfm.preprocess')
        if args.valid or args.valid_fraction:
            raise DataError('--valid and --valid-fraction do not apply to --data-store: '
                            'preprocess with --valid FILE instead')
        from .store import load_for_training
        train, test, info = load_for_training(args.data_store, log)
        check_input(train, test, args, log)
        valid = getattr(train, 'valid', None)
        if valid is not None:
            info.update(valid='store', valid_rows=len(valid))
        return train, valid, test, info
    from .errors import ConfigError
    from .inputs import layout
    try:
        request = layout.request(args.format, args.label, args.drop, args.numeric)
    except layout.LayoutError as e:
        raise ConfigError(str(e)) from None
    if args.test_fraction and (args.test or not args.train):
        raise ConfigError('--test-fraction holds out part of --train FILE as the test set: '
                          'not with --test FILE' + ('' if args.train else ', and it needs --train FILE'))
    if args.train or args.test:
        if not (args.train and (args.test or args.test_fraction)):
            raise ConfigError('--train FILE needs --test FILE or --test-fraction F'
                              if args.train else '--test FILE needs --train FILE')
        train_path, test_path, source = args.train, args.test, 'files'
        folder = os.path.dirname(os.path.abspath(train_path))
    elif args.format != 'd2l':
        raise ConfigError(f'--format {args.format} needs --train FILE and --test FILE (or --test-fraction F)')
    elif args.data_dir:
        folder, source = args.data_dir, 'user'
        if not os.path.isdir(folder):
            raise DataError(f'{folder}: no such directory')
        if not has_ctr_files(folder):
            raise DataError(f'{folder}: needs train.csv and test.csv in the chapter layout')
    else:
        folder, source = default_data(args.data_root, download=not args.no_download, log=log)
    if source != 'files':
        train_path, test_path = os.path.join(folder, 'train.csv'), os.path.join(folder, 'test.csv')
    train, valid, test = load_splits(train_path, test_path, request, args.valid, args.valid_fraction,
                                     min_threshold=args.min_threshold, test_fraction=args.test_fraction,
                                     strict=args.strict)
    check_input(train, test, args, log)
    if valid is not None and args.strict:
        from .validate import enforce_strict
        enforce_strict(valid)
    described = {'user': f'data from {folder}', 'local': f"d2l's ctr data ({folder})",
                 'files': f'{args.format} data: train {train_path}, test '
                          + (test_path or f'{args.test_fraction:g} of it (held out)'),
                 'downloaded': f"d2l's ctr data, downloaded ({folder})",
                 'synthetic': f'SYNTHETIC data ({folder}): d2l ctr.zip is not available offline; '
                              'generated by d2l_deepfm.synthetic with planted interactions'}[source]
    log(f'data: {described}')
    log(f'  read as: {train.layout.describe()}')
    for note in train.notes:
        log(f'  note: {note}')
    log(f'  train {len(train)} rows, test {len(test)} rows, {int(train.field_dims.sum())} features'
        + (f'; skipped malformed rows: train {train.skipped}, test {test.skipped}'
           if train.skipped or test.skipped else ''))
    info = {'source': source, 'folder': folder, 'train_rows': len(train), 'test_rows': len(test),
            'skipped_train': train.skipped, 'skipped_test': test.skipped,
            'num_features': int(train.field_dims.sum()), 'format': args.format,
            'layout': train.layout.to_dict(), 'assumed': train.layout.describe()}
    if args.test_fraction:
        info.update(test_fraction=args.test_fraction)
    if valid is not None:
        log(f'  validation: {len(valid)} rows from {valid.path}')
        info.update(valid=valid.path, valid_rows=len(valid), skipped_valid=valid.skipped)
    return train, valid, test, info


def check_input(train, test, args, log):
    """--strict, and a training set with both classes (validate.py)."""
    from .validate import check_both_classes, enforce_strict
    if args.strict:
        enforce_strict(train)
        enforce_strict(test)
    check_both_classes(train)
    if 0 < len(test) and test.labels.min() == test.labels.max():
        log(f'note: {test.path}: every test row has label {int(test.labels[0])}: test AUC is undefined (nan)')


def train_one(name, train, test, args, devices, log, valid=None, seed=None, tag=None,
              cluster=None, save=True):
    """Train one model with one seed; with a validation set, `final` is the test record of the
    best validation epoch (`best_epoch`) and the saved parameters are that epoch's. `tag` names
    the checkpoint and the parameters file (default: the model's name); save=False writes
    neither (the trials of --wd auto)."""
    from . import sparse, training
    from .checkpoints import ModelCheckpoint
    from .files import atomic_write
    from .distributed import Cluster
    from .validation import EarlyStopping, best_record
    cluster = cluster or Cluster()
    seed = args.seed if seed is None else seed
    tag = tag or name
    if name == 'lr':
        from .baseline import train_lr
        return {**train_lr(train, test, valid), 'seed': seed}
    cfg = model_config(name, args)
    setting = getattr(args, 'sparse_grad', 'off')
    if cluster.distributed and setting == 'auto':
        setting = 'off'       # row-sparse gradients through parameter servers: opt-in only (untested)
    if sparse.choose(setting, int(train.field_dims.sum())):
        cfg['sparse_grad'] = True           # recorded only when on: the chapter's config is unchanged
        log(f'{name}: row-sparse embedding gradients, lazy Adam (--sparse-grad {args.sparse_grad})')
    rng = training.seed_everything(seed)
    net = training.initialize(build_model(name, train.field_dims, cfg), devices)
    trainer = training.make_trainer(net, cfg['lr'], kvstore=cluster.kvstore, wd=cfg.get('wd', 0.0),
                                    wd_embedding=cfg.get('wd_embedding'))
    # no checkpoints with a distributed kvstore: Adam's state lives on the servers
    checkpoint = None if cluster.distributed or not save else ModelCheckpoint(args.out, tag)
    history = checkpoint.restore(net, trainer, devices, cfg) if args.resume and checkpoint else []
    if history:
        log(f'{tag}: resuming after epoch {len(history)}')
    save_epoch = checkpoint.on_epoch(net, trainer, history, cfg) if checkpoint else None
    stopper = None
    if valid is not None:         # keeps the best epoch's parameters (on disk too, for --resume)
        prefix = os.path.join(checkpoint.folder, f'{tag}-best') if checkpoint else None
        stopper = EarlyStopping(net, args.patience, prefix=prefix).resume(history)

    def on_epoch(record):
        if save_epoch is not None:
            save_epoch(record)
        return stopper is not None and stopper(record)
    epochs = len(history) if stopper is not None and stopper.exhausted else args.epochs
    batches = cluster.batches(train, args.batch_size, rng, getattr(args, 'block_rows', 1 << 20),
                              seed=seed)
    history = training.train_ch13(net, train, test, training.make_loss(args.loss), trainer,
                                  epochs, devices, rng, batch_size=args.batch_size,
                                  progress=not args.no_progress, desc=tag, history=history,
                                  valid_data=valid, on_epoch=on_epoch, seed=seed, batches=batches)
    result = {'config': cfg, 'seed': seed, 'epochs': history, 'final': history[-1]}
    if stopper is not None:
        stopper.restore()
        result.update(final=best_record(history, stopper.best_epoch), best_epoch=stopper.best_epoch)
        log(f'{name} (seed {seed}): best validation logloss {stopper.best:.4f} at epoch '
            f'{stopper.best_epoch} of {len(history)}')
    if cluster.writes_outputs and save:
        atomic_write(os.path.join(args.out, f'{tag}.params'), net.save_parameters)
    return result


def format_table(results):
    head = f"{'model':<8}{'test AUC':>10}{'logloss':>10}{'acc':>8}{'epoch':>7}{'ex/s':>10}{'sec':>8}"
    lines = [head, '-' * len(head)]
    for name, res in results.items():
        f = res['final']
        seconds = sum(r['seconds'] for r in res['epochs']) if res['epochs'] else f['seconds']
        epoch = f"{f['epoch']:>7d}" if 'epoch' in f else f"{'-':>7}"          # lr: no epochs
        speed = f"{f['examples_per_sec']:>10.0f}" if 'examples_per_sec' in f else f"{'-':>10}"
        lines.append(f"{name:<8}{f['test_auc']:>10.4f}{f['test_logloss']:>10.4f}{f['test_acc']:>8.4f}"
                     f"{epoch}{speed}{seconds:>8.1f}")
    return '\n'.join(lines)


def run(args, log=print):
    from . import training
    from .checkpoints import Run
    from .files import atomic_write, write_json
    from .compare import format_summary, summarize
    from .data import save_feature_map
    from .errors import DataError, TrainingDiverged
    from .distributed import Cluster
    from .plotting import LABELS, plot_convergence

    start = time.perf_counter()
    names = MODEL_SETS.get(args.model, (args.model,))
    if args.kvstore.startswith('dist') and len(names) > 1:
        raise DataError(f'--kvstore {args.kvstore} trains one model per job: '
                        'add --model fm or --model deepfm')
    if args.kvstore.startswith('dist') and args.resume:
        raise DataError(f'--resume does not work with --kvstore {args.kvstore} (no checkpoints: '
                        "Adam's state lives on the parameter servers)")
    if args.patience and not (args.valid or args.valid_fraction or getattr(args, 'data_store', None)):
        raise DataError('--patience needs a validation set: --valid-fraction F or --valid FILE')
    if args.kvstore.startswith('dist') and (args.wd == 'auto' or args.wd_embedding is not None):
        raise DataError(f'--wd auto and --wd-embedding set penalties per parameter, which the '
                        f'parameter servers do not receive: not with --kvstore {args.kvstore}')
    cluster = Cluster(args.kvstore)
    checkpoints = None
    if not cluster.writes_outputs:        # workers other than rank 0 train and write nothing
        log = lambda *a, **k: None        # noqa: E731
    else:
        os.makedirs(args.out, exist_ok=True)
        if not cluster.distributed:
            checkpoints = Run(args.out)
            checkpoints.begin(args.resume, log)
    train, valid, test, info = load_data(args, log)
    if args.patience and valid is None:
        raise DataError(f'--patience needs a validation set: {args.data_store} has no validation split')
    if args.wd == 'auto' and valid is None:
        raise DataError('--wd auto picks the penalties on a validation set: add --valid FILE or '
                        '--valid-fraction F')
    if cluster.writes_outputs:
        layout = getattr(train, 'layout', None)      # a store has none: its format is the layout
        save_feature_map(os.path.join(args.out, 'feature_map.json'), train,
                         min_threshold=args.min_threshold, format=info.get('format', 'd2l'),
                         **({'layout': layout.to_dict()} if layout is not None else {}))
    devices = args.devices or training.try_all_gpus()
    log(f'devices: {devices}' + (f', kvstore {cluster.name}: {cluster.num_workers} workers'
                                 if cluster.distributed else ''))
    seeds = args.seeds or [args.seed]
    # the first seed's model is <name> (<name>.params), the others' <name>-seed<s>
    tags = {(name, seed): name if i == 0 else f'{name}-seed{seed}'
            for name in names for i, seed in enumerate(seeds)}
    if checkpoints:
        checkpoints.start(args.resume, run_settings(args, info, train),
                          [t for (n, _), t in tags.items() if n != 'lr'], args.epochs)
    runs, tuning = {}, {}
    try:
        for name in names:
            model_args = args
            if args.wd == 'auto' and name != 'lr':
                from .tuning import pick_penalties
                tuning[name] = pick_penalties(name, train, valid, test, args, devices, log, seeds[0])
                model_args = argparse.Namespace(**{**vars(args), **tuning[name]['chosen']})
            runs[name] = [train_one(name, train, test, model_args, devices, log, valid=valid,
                                    seed=seed, tag=tags[name, seed], cluster=cluster)
                          for seed in seeds]
    except TrainingDiverged:
        if checkpoints:
            checkpoints.finish('diverged')
        raise
    if not cluster.writes_outputs:
        return None
    results = {name: {**rs[0], 'runs': rs} if args.seeds else rs[0] for name, rs in runs.items()}
    doc = {'data': info, 'loss': args.loss, 'seed': seeds[0], 'devices': [str(d) for d in devices],
           **results}
    if args.seeds:
        doc.update(seeds=seeds, summary=summarize(runs))
    if tuning:
        doc['tuning'] = tuning
    if cluster.distributed:
        doc['cluster'] = cluster.describe()
    doc['wall_seconds'] = time.perf_counter() - start
    write_json(os.path.join(args.out, 'metrics.json'), doc)
    curves = [n for n in names if results[n]['epochs']]          # lr has no epochs
    if curves:
        fig = plot_convergence({n: results[n]['epochs'] for n in curves},
                               title=f"{' vs '.join(LABELS[n] for n in curves)} ({info['source']} data)",
                               best={n: results[n]['best_epoch'] for n in curves
                                     if 'best_epoch' in results[n]})
        atomic_write(os.path.join(args.out, 'convergence.png'),
                     lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    if checkpoints:
        checkpoints.finish('done')
    log('\n' + format_table(results))
    if args.seeds:
        log(f'\nover seeds {",".join(map(str, seeds))}:\n' + format_summary(doc['summary']))
    saved = ['convergence.png'] if curves else []
    saved += [t + '.params' for (n, _), t in tags.items() if n != 'lr']
    log(f"\nwrote {args.out}/metrics.json, "
        f"{', '.join(saved + ['feature_map.json'])} ({time.perf_counter() - start:.1f} s)")
    return doc


def run_settings(args, info, train):
    """What a resumed run must share with the run it continues (checkpoints.Run)."""
    import hashlib
    return {'batch_size': args.batch_size, 'loss': args.loss, 'seed': args.seed,
            'min_threshold': args.min_threshold, 'format': getattr(args, 'format', 'd2l'),
            'train_rows': info['train_rows'], 'test_rows': info['test_rows'],
            'seeds': args.seeds, 'valid': args.valid, 'valid_fraction': args.valid_fraction,
            **{k: getattr(args, k) for k in ('test_fraction', 'label', 'drop', 'numeric')
               if getattr(args, k, None)},
            'patience': args.patience, 'wd': args.wd, 'wd_embedding': args.wd_embedding,
            'field_dims_sha1': hashlib.sha1(train.field_dims.tobytes()).hexdigest()}


def main(argv=None):
    """Exit status: 0 done, 2 a user mistake (bad data, options or --out), 3 the training
    diverged, 130 interrupted (Ctrl-C or SIGTERM; the last complete epoch is saved)."""
    args = build_parser().parse_args(argv)
    from .checkpoints import Run
    from .files import sigterm_as_interrupt
    from .cli import report_errors
    from .errors import TrainingDiverged

    def guarded(args):
        with sigterm_as_interrupt():
            run(args)

    def diverged(e):
        print(f'error: {e}; the last good epochs are kept in {args.out}/checkpoints '
              f'({Run(args.out).progress()}); try a smaller --lr in a new --out', file=sys.stderr)
        return 3

    try:
        return report_errors(guarded, args, args.out, [(TrainingDiverged, diverged)])
    except KeyboardInterrupt:
        print(f'interrupted; saved in {args.out}/checkpoints: {Run(args.out).progress()}; '
              'continue with --resume', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
