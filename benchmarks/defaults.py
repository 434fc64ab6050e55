"""Candidate protocols side by side: the table behind docs/defaults.md, and the speed ratio.

    OMP_NUM_THREADS=1 python benchmarks/defaults.py --work /tmp/defaults run --shard 0/2 &
    OMP_NUM_THREADS=1 python benchmarks/defaults.py --work /tmp/defaults run --shard 1/2
    python benchmarks/defaults.py --work /tmp/defaults table

Each candidate protocol trains FM and DeepFM on every dataset and seed: train on the training
rows, pick the epoch on validation logloss (early stopping), report the test metrics of that
epoch. LR (C picked on validation) is fitted once per dataset. Datasets:

  criteo, avazu       the shared samples with their own train/valid/test files
                      (CRITEO/AVAZU folders: --criteo, --avazu; skipped when missing)
  criteo-rK, avazu-rK the same rows pooled and re-split (seed K: 10% test, 10% validation)
  d0, d2              planted data (scripts/planted_family.py; d0 is the default data), with
                      the default protocol's 10% validation hold-out

`run` appends one JSON line per (candidate, dataset, seed, model) to WORK/results.jsonl and
skips what is there already (so it can be stopped and resumed, and sharded over two processes);
`table` prints, per dataset, each candidate's test AUC, logloss, picked epoch / epochs trained
and training seconds (means over the seeds), and the speed ratio: DeepFM's training examples/s
under each candidate over the same package's at the chapter's shapes (batch 2048, MLP 30-20-10,
10 factors), measured in the same run on the same data. A benchmark, not a test: the load moves
the seconds, the ratios hold better.
"""
import argparse
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

SHARED = '/work/shared/data'
# name: batch, per-model Adam step, DeepFM's MLP, L2 penalties (times 1/n: first-order/bias/MLP,
# factors), patience, epoch cap. 'chapter' is the chapter's shapes and steps (no penalty) with
# early stopping: the speed reference. A variant of one model (models=...) takes the other
# model's numbers from its base in the summary.


def candidate(batch, fm, deepfm, mlp, wd=((30, 300), (3, 300)), epochs=50, **extra):
    return dict(batch=batch, lr={'fm': fm, 'deepfm': deepfm}, mlp=mlp,
                wd={'fm': wd[0], 'deepfm': wd[1]}, patience=3, epochs=epochs, **extra)


FM_ONLY, DEEPFM_ONLY = dict(models=('fm',), base='b512-f3'), dict(models=('deepfm',), base='b512-f3')
CANDIDATES = {
    'chapter': candidate(2048, 0.02, 0.01, [30, 20, 10], wd=(None, None), epochs=30),
    'b1024-128': candidate(1024, 0.01, 0.003, [128, 64]),
    'b1024-30': candidate(1024, 0.01, 0.003, [30, 20, 10]),
    'b512-128': candidate(512, 0.005, 0.002, [128, 64]),
    'b2048-128': candidate(2048, 0.02, 0.005, [128, 64]),
    'b1024-400': candidate(1024, 0.01, 0.003, [400, 400, 400]),
    'b512-f3': candidate(512, 0.003, 0.002, [128, 64]),          # the default protocol
    'b512-64': candidate(512, 0.003, 0.002, [64, 32]),
    'd-64': candidate(512, None, 0.002, [64, 32], **DEEPFM_ONLY),   # the default, MLP 64-32
    'b1024-f5': candidate(1024, 0.005, 0.002, [128, 64]),
    'b1024-f3': candidate(1024, 0.003, 0.003, [128, 64]),
    'f-wde1000': candidate(512, 0.003, None, None, wd=((30, 1000), None), **FM_ONLY),
    'f-lr2': candidate(512, 0.002, None, None, **FM_ONLY),
    'd-wd10': candidate(512, None, 0.002, [128, 64], wd=(None, (10, 300)), **DEEPFM_ONLY),
    'd-wde1000': candidate(512, None, 0.002, [128, 64], wd=(None, (3, 1000)), **DEEPFM_ONLY),
    'd-drop3': candidate(512, None, 0.002, [128, 64], dropout=0.3, **DEEPFM_ONLY),
    'before': candidate(256, 0.001, 0.001, [400, 400, 400], epochs=30),   # the old default
}
DATASETS = ('criteo', 'avazu', 'criteo-r1', 'avazu-r1', 'd0', 'd2')


def pooled(work, name, folder, ext, header):
    """The sample's train, valid and test files as one file (one header line for CSV)."""
    path = os.path.join(work, f'{name}-pooled.{ext}')
    if not os.path.exists(path):
        with open(path + '.tmp', 'w') as out:
            for i, part in enumerate(('train', 'valid', 'test')):
                with open(os.path.join(folder, f'{part}.{ext}')) as f:
                    lines = f.readlines()
                out.writelines(lines[1:] if header and i else lines)
        os.replace(path + '.tmp', path)
    return path


def load(name, work, criteo, avazu):
    """(train, valid, test) of a dataset, or None when its files are missing."""
    from d2l_deepfm.experiment.splits import load_splits
    base, _, resplit = name.partition('-r')
    if base in ('criteo', 'avazu'):
        folder, ext = (criteo, 'txt') if base == 'criteo' else (avazu, 'csv')
        if not os.path.isfile(os.path.join(folder, f'train.{ext}')):
            return None
        if not resplit:
            return load_splits(os.path.join(folder, f'train.{ext}'),
                               os.path.join(folder, f'test.{ext}'), base,
                               valid_path=os.path.join(folder, f'valid.{ext}'))
        path = pooled(work, base, folder, ext, header=base == 'avazu')
        return load_splits(path, None, base, valid_fraction=0.1, test_fraction=0.1,
                           split_seed=int(resplit))
    import planted_family
    folder = os.path.join(work, 'planted', name)
    if not os.path.isfile(os.path.join(folder, 'test.csv')):
        planted_family.write(folder, *planted_family.FAMILY[name])
    return load_splits(os.path.join(folder, 'train.csv'), os.path.join(folder, 'test.csv'),
                       valid_fraction=0.1)


def train(model, cand, data, seed):
    """One model under one candidate: the result line (test metrics of the picked epoch)."""
    import mxnet as mx
    from d2l_deepfm.experiment.config import ModelConfig, OutputConfig, RunConfig, TrainConfig
    from d2l_deepfm.experiment.run import train_one
    tr, valid, test = data
    c = CANDIDATES[cand]
    wd = c['wd'][model]
    config = RunConfig(model=ModelConfig(model=model, lr=c['lr'][model],
                                         mlp_dims=c['mlp'] if model == 'deepfm' else None,
                                         dropout=c.get('dropout') if model == 'deepfm' else None),
                       train=TrainConfig(epochs=c['epochs'], batch_size=c['batch'],
                                         patience=c['patience'],
                                         protocol='chapter' if wd is None else 'default'),
                       output=OutputConfig(out='/tmp/unused', progress=False))
    penalties = None if wd is None else {'wd': wd[0] / len(tr), 'wd_embedding': wd[1] / len(tr)}
    r = train_one(model, tr, test, config, [mx.cpu()], lambda *a, **k: None, valid=valid,
                  seed=seed, save=False, penalties=penalties)
    epochs = r['epochs']
    speeds = [e['examples_per_sec'] for e in epochs[1:]] or [epochs[0]['examples_per_sec']]
    return {'auc': r['final']['test_auc'], 'logloss': r['final']['test_logloss'],
            'epoch': r['best_epoch'], 'trained': len(epochs), 'cap': c['epochs'],
            'seconds': sum(e['seconds'] for e in epochs),
            'examples_per_sec': statistics.median(speeds)}


def fit_lr(data):
    from d2l_deepfm.experiment.baseline import train_lr
    tr, valid, test = data
    r = train_lr(tr, test, valid)
    return {'auc': r['final']['test_auc'], 'logloss': r['final']['test_logloss'], 'epoch': None,
            'trained': None, 'seconds': r['final']['seconds'], 'C': r['config']['C']}


def read_lines(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run(args):
    path = os.path.join(args.work, 'results.jsonl')
    done = {(r['candidate'], r['dataset'], r['seed'], r['model']) for r in read_lines(path)}
    jobs = [(d, cand, s, m) for d in args.datasets for cand in args.candidates
            for s in args.seeds for m in CANDIDATES[cand].get('models', ('fm', 'deepfm'))]
    jobs += [(d, 'lr', 0, 'lr') for d in args.datasets]
    index, count = map(int, args.shard.split('/'))
    cache = {}
    for i, (d, cand, seed, model) in enumerate(jobs):
        if i % count != index or (cand, d, seed, model) in done:
            continue
        if d not in cache:
            cache = {d: load(d, args.work, args.criteo, args.avazu)}   # one dataset in memory
        if cache[d] is None:
            continue
        line = fit_lr(cache[d]) if model == 'lr' else train(model, cand, cache[d], seed)
        line.update(candidate=cand, dataset=d, seed=seed, model=model, rows=len(cache[d][0]))
        print(json.dumps(line), flush=True)
        with open(path, 'a') as f:
            f.write(json.dumps(line) + '\n')


def speed(args):
    """DeepFM's training examples/s under each candidate's batch and MLP against the chapter's
    shapes (batch 2048, MLP 30-20-10, 10 factors), interleaved on the same data in one run: each
    round trains every shape for a few epochs; the median over the rounds of each shape's median
    epoch (after the first) is its figure."""
    import mxnet as mx
    from d2l_deepfm import kernels, training
    from d2l_deepfm.models import DeepFM
    compiled = kernels.choose(args.kernels, [mx.cpu()])     # as a run would (--kernels)
    figures = {}
    for d in args.datasets:
        data = load(d, args.work, args.criteo, args.avazu)
        if data is None:
            continue
        tr, _, test = data
        shapes = {c: (CANDIDATES[c]['batch'], tuple(CANDIDATES[c]['mlp'])) for c in args.candidates
                  if CANDIDATES[c].get('mlp')}                 # DeepFM's candidates only
        shapes['chapter'] = (2048, (30, 20, 10))
        runs = {c: [] for c in shapes}
        for _ in range(args.rounds):
            for c, (batch, mlp) in shapes.items():
                net = training.initialize(DeepFM(tr.field_dims, 10, list(mlp), 0.1, compiled=compiled),
                                          [mx.cpu()])
                history = training.train_ch13(
                    net, tr, test, training.make_loss(), training.make_trainer(net, 0.002),
                    args.epochs, [mx.cpu()], training.seed_everything(0), batch_size=batch,
                    progress=False)
                runs[c].append(statistics.median(r['examples_per_sec'] for r in history[1:]))
        ref = statistics.median(runs['chapter'])
        print(f"\n{d} ({len(tr)} rows): DeepFM training examples/s, median of {args.rounds} rounds "
              f"of {args.epochs} epochs; x chapter = over the chapter's shapes")
        for c, (batch, mlp) in shapes.items():
            v = statistics.median(runs[c])
            figures[d, c] = v / ref
            print(f"  {c:<11} batch {batch:<5} MLP {'-'.join(map(str, mlp)):<12}{v:>9.0f} ex/s"
                  f"{v / ref:>7.2f} x chapter")
    return figures


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float('nan')


def grouped(args):
    lines = read_lines(os.path.join(args.work, 'results.jsonl'))
    by = {}
    for r in lines:
        by.setdefault((r['dataset'], r['candidate'], r['model']), []).append(r)
    return lines, by


def markdown(args):
    """Per dataset, a markdown table: each candidate's FM and DeepFM (means over the seeds)."""
    lines, by = grouped(args)
    for d in args.datasets:
        lr = by.get((d, 'lr', 'lr'))
        if not lr:
            continue
        print(f"\n**{d}** ({lr[0]['rows']:,} training rows; LR {lr[0]['auc']:.4f} / "
              f"{lr[0]['logloss']:.4f}, C {lr[0]['C']})\n")
        print('| candidate | FM AUC | FM logloss | FM epoch/trained | FM s | DeepFM AUC | '
              'DeepFM logloss | DeepFM epoch/trained | DeepFM s |')
        print('|---|---:|---:|---|---:|---:|---:|---|---:|')
        for cand in args.candidates:
            cells = []
            for model in ('fm', 'deepfm'):
                rs = by.get((d, cand, model))
                cells += ([f"{mean([r['auc'] for r in rs]):.4f}",
                           f"{mean([r['logloss'] for r in rs]):.4f}",
                           ' '.join(f"{r['epoch']}/{r['trained']}" for r in rs),
                           f"{mean([r['seconds'] for r in rs]):.1f}"] if rs else ['–'] * 4)
            if set(cells) != {'–'}:
                print(f"| {cand} | " + ' | '.join(cells) + ' |')


def table(args):
    lines, by = grouped(args)
    for d in args.datasets:
        rows = [k for k in by if k[0] == d]
        if not rows:
            continue
        lr = by.get((d, 'lr', 'lr'), [{}])[0]
        print(f"\n{d} ({lines[[i for i, r in enumerate(lines) if r['dataset'] == d][0]]['rows']} "
              f"training rows): LR {lr.get('auc', float('nan')):.4f} "
              f"(logloss {lr.get('logloss', float('nan')):.4f}, C {lr.get('C')})")
        print(f"{'candidate':<11}{'model':<7}{'AUC':>8}{'logloss':>9}  {'epoch/trained (cap)':<22}"
              f"{'s':>6}{'ex/s':>9}  seeds")
        for cand in args.candidates:
            for model in ('fm', 'deepfm'):
                rs = by.get((d, cand, model))
                if not rs:
                    continue
                speed = mean([r['examples_per_sec'] for r in rs])
                epochs = ','.join(f"{r['epoch']}/{r['trained']}" for r in rs) + f" ({rs[0]['cap']})"
                print(f"{cand:<11}{model:<7}{mean([r['auc'] for r in rs]):>8.4f}"
                      f"{mean([r['logloss'] for r in rs]):>9.4f}  {epochs:<22}"
                      f"{mean([r['seconds'] for r in rs]):>6.1f}{speed:>9.0f}  "
                      f"{','.join(str(r['seed']) for r in rs)}")
    print('\nsummary per candidate (test AUC means over the seeds; a variant of one model takes '
          "the other model's numbers from its base):")
    print(f"{'candidate':<11}{'group':<8}{'sets':>5}{'FM':>8}{'DeepFM':>8}{'LR':>8}"
          f"{'min FM−LR':>11}{'min DFM−max':>12}{'DFM s':>7}")
    for cand in args.candidates:
        base = CANDIDATES[cand].get('base', cand)
        for group, names in (('real', [d for d in args.datasets if not d.startswith('d')]),
                             ('planted', [d for d in args.datasets if d.startswith('d')])):
            rows = []
            for d in names:
                got = {m: by.get((d, cand, m)) or by.get((d, base, m)) for m in ('fm', 'deepfm')}
                lr = by.get((d, 'lr', 'lr'))
                if got['fm'] and got['deepfm'] and lr:
                    fm, dfm = (mean([r['auc'] for r in got[m]]) for m in ('fm', 'deepfm'))
                    rows.append((fm, dfm, lr[0]['auc'],
                                 mean([r['seconds'] for r in got['deepfm']])))
            if rows:
                fm, dfm, lr, sec = (mean(col) for col in zip(*rows))
                print(f"{cand:<11}{group:<8}{len(rows):>5}{fm:>8.4f}{dfm:>8.4f}{lr:>8.4f}"
                      f"{min(r[0] - r[2] for r in rows):>+11.4f}"
                      f"{min(r[1] - max(r[0], r[2]) for r in rows):>+12.4f}{sec:>7.1f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work', default='/tmp/defaults', help='datasets and results.jsonl go here')
    p.add_argument('--criteo', default=os.path.join(SHARED, 'criteo_sample'))
    p.add_argument('--avazu', default=os.path.join(SHARED, 'avazu_sample'))
    p.add_argument('--datasets', type=lambda s: s.split(','), default=list(DATASETS))
    p.add_argument('--candidates', type=lambda s: s.split(','), default=list(CANDIDATES))
    p.add_argument('--seeds', type=lambda s: [int(x) for x in s.split(',')], default=[0, 1])
    sub = p.add_subparsers(dest='command', required=True)
    r = sub.add_parser('run', help='train what is not in WORK/results.jsonl yet')
    r.add_argument('--shard', default='0/1', help='I/N: this process takes every N-th job')
    sub.add_parser('table', help='print the table of candidates')
    sub.add_parser('markdown', help='the same, as markdown tables per dataset (docs/defaults.md)')
    sp = sub.add_parser('speed', help="DeepFM's examples/s under each candidate vs the chapter's "
                                      'shapes, interleaved on the same data')
    sp.add_argument('--rounds', type=int, default=3)
    sp.add_argument('--epochs', type=int, default=4)
    sp.add_argument('--kernels', choices=('auto', 'on', 'off'), default='auto',
                    help='the compiled operators, as train --kernels (default auto)')
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    if unknown:
        p.error(f'unknown candidates: {", ".join(unknown)}')
    return {'run': run, 'table': table, 'speed': speed, 'markdown': markdown}[args.command](args) and 0


if __name__ == '__main__':
    sys.exit(main())
