"""python -m d2l_deepfm.train: train FM and/or DeepFM as in the chapter and compare them.

Reads train.csv/test.csv in the chapter's layout (default: d2l's ctr data, or a synthetic
stand-in when offline), trains with the chapter's settings unless told otherwise, and writes
into --out: metrics.json, convergence.png, <model>.params and feature_map.json, plus a
checkpoint after every epoch (--resume continues from it; see checkpoints.py).
"""
import argparse
import json
import os
import sys
import time

MODELS = ('fm', 'deepfm')
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
    p.add_argument('--model', choices=('fm', 'deepfm', 'both'), default='both')
    p.add_argument('--data-dir', help='folder with train.csv and test.csv in the chapter layout '
                   '(default: data/ctr, downloaded if missing, else synthetic data)')
    p.add_argument('--data-root', default='data', help='where the default data is cached (default: data)')
    p.add_argument('--no-download', action='store_true', help='do not try to download ctr.zip')
    p.add_argument('--epochs', type=positive(int), default=30)
    p.add_argument('--batch-size', type=positive(int), default=2048)
    p.add_argument('--lr', type=positive(float), help='learning rate (chapter: FM 0.02, DeepFM 0.01)')
    p.add_argument('--num-factors', type=positive(int), help='embedding size (chapter: FM 20, DeepFM 10)')
    p.add_argument('--mlp-dims', type=int_list, help='DeepFM hidden layers (chapter: 30,20,10)')
    p.add_argument('--dropout', type=float, help='DeepFM dropout rate (chapter: 0.1)')
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
    from .data import CTRDataset, DataError, default_data, has_ctr_files
    if getattr(args, 'data_store', None):
        from .store import load_for_training
        train, test, info = load_for_training(args.data_store, log)
        check_input(train, test, args, log)
        return train, test, info
    if args.data_dir:
        folder, source = args.data_dir, 'user'
        if not os.path.isdir(folder):
            raise DataError(f'{folder}: no such directory')
        if not has_ctr_files(folder):
            raise DataError(f'{folder}: needs train.csv and test.csv in the chapter layout')
    else:
        folder, source = default_data(args.data_root, download=not args.no_download, log=log)
    train = CTRDataset(os.path.join(folder, 'train.csv'), min_threshold=args.min_threshold)
    test = CTRDataset(os.path.join(folder, 'test.csv'), train.feat_mapper, train.defaults)
    check_input(train, test, args, log)
    described = {'user': f'data from {folder}', 'local': f"d2l's ctr data ({folder})",
                 'downloaded': f"d2l's ctr data, downloaded ({folder})",
                 'synthetic': f'SYNTHETIC data ({folder}): d2l ctr.zip is not available offline; '
                              'generated by d2l_deepfm.synthetic with planted interactions'}[source]
    log(f'data: {described}')
    log(f'  train {len(train)} rows, test {len(test)} rows, {int(train.field_dims.sum())} features'
        + (f'; skipped malformed rows: train {train.skipped}, test {test.skipped}'
           if train.skipped or test.skipped else ''))
    info = {'source': source, 'folder': folder, 'train_rows': len(train), 'test_rows': len(test),
            'skipped_train': train.skipped, 'skipped_test': test.skipped,
            'num_features': int(train.field_dims.sum())}
    return train, test, info


def check_input(train, test, args, log):
    """--strict, and a training set with both classes (validate.py)."""
    from .validate import check_both_classes, enforce_strict
    if args.strict:
        enforce_strict(train)
        enforce_strict(test)
    check_both_classes(train)
    if 0 < len(test) and test.labels.min() == test.labels.max():
        log(f'note: {test.path}: every test row has label {int(test.labels[0])}: test AUC is undefined (nan)')


def train_one(name, train, test, args, devices, log, cluster=None):
    from . import sparse, training
    from .checkpoints import ModelCheckpoint, atomic_write
    from .distributed import Cluster
    cluster = cluster or Cluster()
    cfg = model_config(name, args)
    setting = getattr(args, 'sparse_grad', 'off')
    if cluster.distributed and setting == 'auto':
        setting = 'off'       # row-sparse gradients through parameter servers: opt-in only (untested)
    if sparse.choose(setting, int(train.field_dims.sum())):
        cfg['sparse_grad'] = True           # recorded only when on: the chapter's config is unchanged
        log(f'{name}: row-sparse embedding gradients, lazy Adam (--sparse-grad {args.sparse_grad})')
    rng = training.seed_everything(args.seed)
    net = training.initialize(build_model(name, train.field_dims, cfg), devices)
    trainer = training.make_trainer(net, cfg['lr'], kvstore=cluster.kvstore)
    # no checkpoints with a distributed kvstore: Adam's state lives on the servers
    checkpoint = None if cluster.distributed else ModelCheckpoint(args.out, name)
    history = checkpoint.restore(net, trainer, devices, cfg) if args.resume and checkpoint else []
    if history:
        log(f'{name}: resuming after epoch {len(history)}')
    batches = cluster.batches(train, args.batch_size, rng, getattr(args, 'block_rows', 1 << 20),
                              seed=args.seed)
    history = training.train_ch13(net, train, test, training.make_loss(args.loss), trainer,
                                  args.epochs, devices, rng, batch_size=args.batch_size,
                                  progress=not args.no_progress, desc=name, history=history,
                                  on_epoch=checkpoint.on_epoch(net, trainer, history, cfg)
                                  if checkpoint else None,
                                  seed=args.seed, batches=batches)
    if cluster.writes_outputs:
        atomic_write(os.path.join(args.out, f'{name}.params'), net.save_parameters)
    return {'config': cfg, 'epochs': history, 'final': history[-1]}


def format_table(results):
    head = f"{'model':<8}{'test AUC':>10}{'logloss':>10}{'acc':>8}{'epoch':>7}{'ex/s':>10}{'sec':>8}"
    lines = [head, '-' * len(head)]
    for name, res in results.items():
        f = res['final']
        seconds = sum(r['seconds'] for r in res['epochs'])
        lines.append(f"{name:<8}{f['test_auc']:>10.4f}{f['test_logloss']:>10.4f}{f['test_acc']:>8.4f}"
                     f"{f['epoch']:>7d}{f['examples_per_sec']:>10.0f}{seconds:>8.1f}")
    return '\n'.join(lines)


def write_json(path, doc):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def run(args, log=print):
    from . import training
    from .checkpoints import Run, atomic_write
    from .data import DataError, save_feature_map
    from .distributed import Cluster
    from .plotting import plot_convergence

    start = time.perf_counter()
    names = MODELS if args.model == 'both' else (args.model,)
    if args.kvstore.startswith('dist') and len(names) > 1:
        raise DataError(f'--kvstore {args.kvstore} trains one model per job: '
                        'add --model fm or --model deepfm')
    if args.kvstore.startswith('dist') and args.resume:
        raise DataError(f'--resume does not work with --kvstore {args.kvstore} (no checkpoints: '
                        "Adam's state lives on the parameter servers)")
    cluster = Cluster(args.kvstore)
    checkpoints = None
    if not cluster.writes_outputs:        # workers other than rank 0 train and write nothing
        log = lambda *a, **k: None        # noqa: E731
    else:
        os.makedirs(args.out, exist_ok=True)
        if not cluster.distributed:
            checkpoints = Run(args.out)
            checkpoints.begin(args.resume, log)
    train, test, info = load_data(args, log)
    if cluster.writes_outputs:
        save_feature_map(os.path.join(args.out, 'feature_map.json'), train,
                         min_threshold=args.min_threshold, format=info.get('format', 'd2l'))
    devices = args.devices or training.try_all_gpus()
    log(f'devices: {devices}' + (f', kvstore {cluster.name}: {cluster.num_workers} workers'
                                 if cluster.distributed else ''))
    if checkpoints:
        checkpoints.start(args.resume, run_settings(args, info, train), names, args.epochs)
    results = {}
    try:
        for name in names:
            results[name] = train_one(name, train, test, args, devices, log, cluster)
    except training.TrainingDiverged:
        if checkpoints:
            checkpoints.finish('diverged')
        raise
    if not cluster.writes_outputs:
        return None
    doc = {'data': info, 'loss': args.loss, 'seed': args.seed, 'devices': [str(d) for d in devices],
           **results, 'wall_seconds': time.perf_counter() - start}
    if cluster.distributed:
        doc['cluster'] = cluster.describe()
    write_json(os.path.join(args.out, 'metrics.json'), doc)
    fig = plot_convergence({n: r['epochs'] for n, r in results.items()},
                           title=f"{' vs '.join(n.upper() if n == 'fm' else 'DeepFM' for n in names)} "
                                 f"({info['source']} data)")
    atomic_write(os.path.join(args.out, 'convergence.png'),
                 lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    if checkpoints:
        checkpoints.finish('done')
    log('\n' + format_table(results))
    log(f"\nwrote {args.out}/metrics.json, convergence.png, "
        f"{', '.join(n + '.params' for n in names)}, feature_map.json "
        f"({time.perf_counter() - start:.1f} s)")
    return doc


def run_settings(args, info, train):
    """What a resumed run must share with the run it continues (checkpoints.Run)."""
    import hashlib
    return {'batch_size': args.batch_size, 'loss': args.loss, 'seed': args.seed,
            'min_threshold': args.min_threshold, 'format': getattr(args, 'format', 'd2l'),
            'train_rows': info['train_rows'], 'test_rows': info['test_rows'],
            'field_dims_sha1': hashlib.sha1(train.field_dims.tobytes()).hexdigest()}


def main(argv=None):
    """Exit status: 0 done, 2 a user mistake (bad data, options or --out), 3 the training
    diverged, 130 interrupted (Ctrl-C or SIGTERM; the last complete epoch is saved)."""
    args = build_parser().parse_args(argv)
    from .checkpoints import Run, sigterm_as_interrupt
    from .data import DataError
    from .training import TrainingDiverged
    try:
        with sigterm_as_interrupt():
            run(args)
    except DataError as e:
        if args.debug:
            raise
        print(f'error: {e}', file=sys.stderr)
        return 2
    except OSError as e:
        if args.debug:
            raise
        print(f'error: {e.filename or args.out}: {e.strerror or e}', file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        if args.debug:
            raise
        print(f'error: {e}; the last good epochs are kept in {args.out}/checkpoints '
              f'({Run(args.out).progress()}); try a smaller --lr in a new --out', file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f'interrupted; saved in {args.out}/checkpoints: {Run(args.out).progress()}; '
              'continue with --resume', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
