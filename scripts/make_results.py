"""Regenerate RESULTS.md: FM vs DeepFM vs logistic regression, mean ± std over seeds, with
early stopping on a validation split, on the default data and on the real Criteo and Avazu
samples; the chapter's double-sigmoid loss against the fix; the MLP-structure sweep (chapter exercise).

    python scripts/make_results.py [--criteo DIR] [--avazu DIR] [--out runs/results]

Every number comes from a `python -m d2l_deepfm.compare` / `train` command, run in this process
and printed in RESULTS.md exactly as a user would type it. The Criteo sample (raw Kaggle rows,
train.txt/valid.txt/test.txt) is looked for in --criteo (default: ../shared/data/criteo_sample
from the repository root); without it, that section says where it looked and is left out. The
same for the Avazu sample (CSV with Avazu's header, train.csv/valid.csv/test.csv) in --avazu.
"""
import argparse
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

CHAPTER = ['--protocol', 'chapter']        # the chapter's settings; flags below add to them
EARLY = [*CHAPTER, '--valid-fraction', '0.1', '--patience', '5']
TUNED = ['--lr', '0.001', '--batch-size', '256', '--wd', 'auto']
NAMES = {'fm': 'FM', 'deepfm': 'DeepFM', 'lr': 'LR'}


def run(module, argv, out, log):
    """Run `python -m d2l_deepfm.<module> argv --out out` in this process; (command, metrics)."""
    from d2l_deepfm.experiment.run import run as run_config
    from d2l_deepfm.cli.train_command import config_from_argv
    defaults = ['--model', 'all', '--seeds', '0,1,2'] if module == 'compare' else []
    argv = [*argv, '--no-progress', '--out', out]
    command = f"python -m d2l_deepfm.{module} {' '.join(argv)}"
    log(f'$ {command}')
    start = time.perf_counter()
    doc = run_config(config_from_argv(defaults + argv), log=lambda *a: None)
    log(f'  ({time.perf_counter() - start:.0f} s)')
    return command, doc


def pm(stat, digits=4):
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def summary_table(doc):
    rows = ['| model | test AUC | test logloss | epoch picked (per seed) |', '|---|---|---|---|']
    for name, s in doc['summary'].items():
        epochs = ', '.join('–' if e is None else str(e) for e in s['best_epoch'])
        extra = f" (C = {doc[name]['config']['C']})" if name == 'lr' else ''
        rows.append(f"| {NAMES[name]}{extra} | {pm(s['test_auc'])} | {pm(s['test_logloss'])} | {epochs} |")
    return '\n'.join(rows)


def gap_line(doc, a, b):
    """'a − b: gap (spread)': the AUC gap between two models against the larger seed-to-seed std."""
    sa, sb = doc['summary'][a]['test_auc'], doc['summary'][b]['test_auc']
    gap, spread = sa['mean'] - sb['mean'], max(sa['std'], sb['std'])
    verdict = ('larger than' if abs(gap) > spread else 'within') + ' the seed-to-seed spread'
    return (f"{NAMES[a]} − {NAMES[b]} test AUC: **{gap:+.4f}** (largest std {spread:.4f}: {verdict})")


def test_predictions(run_dir, doc, args_list):
    """{model: [test probabilities per seed]} from the saved parameters of a compare run
    (LR refitted with the C it picked) and the test labels."""
    import mxnet as mx
    from d2l_deepfm import training
    from d2l_deepfm.experiment import baseline
    from d2l_deepfm.experiment.splits import load_data
    from d2l_deepfm.models import build_model
    from d2l_deepfm.run_folder import RunFolder
    from d2l_deepfm.cli.train_command import config_from_argv
    data = load_data(config_from_argv(args_list), log=lambda *a: None)
    tr, test = data[0], data[2]
    preds = {}
    for name in ('fm', 'deepfm'):
        preds[name] = []
        for i, seed in enumerate(doc['seeds']):
            net = build_model(name, tr.field_dims, doc[name]['config'])
            net.load_parameters(RunFolder(run_dir).model(RunFolder.tag(name, i, seed)), ctx=mx.cpu())
            preds[name].append(training.predict(net, test.features, [mx.cpu()]))
    X, Xt = baseline.one_hot(tr), baseline.one_hot(test, tr.field_dims.sum())
    lr = baseline.fit(X, tr.labels, doc['lr']['config']['C'])
    preds['lr'] = [lr.predict_proba(Xt)[:, 1]] * len(doc['seeds'])
    return preds, test.labels


def bootstrap_gap(preds, labels, a, b, rounds=1000, seed=0):
    """95% interval of the test AUC gap a − b (mean over seeds) as a sentence: with several
    seeds it covers the seed-to-seed spread and the test rows together, with one the test rows
    (paired: the same rows for both models): experiment.stats.gap_interval."""
    from d2l_deepfm.experiment.stats import gap_interval
    c = gap_interval(labels, preds[a], preds[b], rounds=rounds, seed=seed)
    covers = (f"the {c['seeds']} seeds and the {c['rows']} test rows" if c['seeds'] > 1 else
              f"the {c['rows']} test rows (one seed)")
    return f"95% interval over {covers}: [{c['low']:+.4f}, {c['high']:+.4f}]"


def data_line(doc):
    d = doc['data']
    where = f"{d['source']} data ({d['folder']})" if d['source'] != 'files' else 'the files in the command'
    line = (f"{where}, format {d['format']}: {d['train_rows']} training rows, "
            f"{d.get('valid_rows', 0)} validation rows, {d['test_rows']} test rows, "
            f"{d['num_features']} features")
    if d['source'] == 'synthetic':
        line += (" — d2l's ctr.zip could not be downloaded, so this is the offline stand-in from "
                 "`d2l_deepfm/datasets/synthetic.py` (planted first-order, pairwise and three-way XOR effects)")
    return line


def avazu_args_for(folder):
    """The compare flags for the Avazu sample in `folder`, or None without its three files."""
    files = {n: os.path.join(folder, f'{n}.csv') for n in ('train', 'valid', 'test')}
    if not all(os.path.isfile(f) for f in files.values()):
        return None
    rel = {n: os.path.relpath(f, ROOT) for n, f in files.items()}
    return ['--format', 'avazu', '--train', rel['train'], '--valid', rel['valid'],
            '--test', rel['test'], '--patience', '5']


def avazu_section(folder, out, log):
    """RESULTS.md's Avazu table (markdown lines) and the flags it used (None: not run)."""
    avazu_args = avazu_args_for(folder)
    if avazu_args is None:
        return ['## Real Avazu rows', '', f'Not run: no train.csv, valid.csv and test.csv in '
                f'`{os.path.abspath(folder)}` (pass `--avazu DIR`).', ''], None
    cmd, doc = run('compare', avazu_args, out, log)
    preds, labels = test_predictions(out, doc, avazu_args)
    return ['## Real Avazu rows: FM vs DeepFM vs LR', '',
            "This command runs the default protocol (no `--protocol chapter`: Adam lr 0.001, "
            "batches of 256, penalties scaled by 1/n; see below), here with patience 5, not the "
            "chapter's settings of the other tables.", '', f'`{cmd}`', '',
            data_line(doc) + f' (looked in `{os.path.relpath(folder, ROOT)}`; all rows from the '
            "first hour of Avazu's training file; read as: " + doc['data']['assumed'] + ')', '',
            summary_table(doc), '',
            '- ' + gap_line(doc, 'deepfm', 'lr') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'lr'),
            '- ' + gap_line(doc, 'deepfm', 'fm') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'fm'),
            ''], avazu_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--criteo', default=os.path.join(ROOT, '..', 'shared', 'data', 'criteo_sample'))
    p.add_argument('--avazu', default=os.path.join(ROOT, '..', 'shared', 'data', 'avazu_sample'))
    p.add_argument('--out', default=os.path.join('runs', 'results'))
    p.add_argument('--results', default=os.path.join(ROOT, 'RESULTS.md'))
    p.add_argument('--figure', default=os.path.join(ROOT, 'docs', 'mlp_sweep.png'))
    args = p.parse_args(argv)
    os.chdir(ROOT)
    start = time.perf_counter()
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    log = print
    import mlp_sweep

    md = ['# Results', '',
          'Generated by `python scripts/make_results.py` (do not edit by hand) on '
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} "
          f'with {os.cpu_count()} CPU cores, no GPU unless stated by the runs below.', '',
          'Protocol: each model is trained once per seed (0, 1, 2: initialization, shuffles, '
          'dropout); the epoch is picked on **validation** data (lowest validation logloss; '
          'training stops after 5 epochs without improvement, at most 30), and the table reports '
          'the **test** metrics of that epoch, mean ± sample std over the seeds. Models use the '
          "chapter's settings (FM: 20 factors, lr 0.02; DeepFM: 10 factors, MLP 30-20-10, "
          'dropout 0.1, lr 0.01; Adam, batch 2048, min_threshold 4). LR is scikit-learn '
          'logistic regression on the same one-hot features, its L2 strength C picked on the '
          'same validation rows (it is deterministic: std 0).', '']

    # 1. the default data
    cmd, doc = run('compare', EARLY, out('default'), log)
    preds, labels = test_predictions(out('default'), doc, EARLY)
    md += ['## Default data: FM vs DeepFM vs LR', '', f'`{cmd}`', '', data_line(doc), '',
           summary_table(doc), '',
           '- ' + gap_line(doc, 'deepfm', 'fm') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'fm'),
           '- ' + gap_line(doc, 'deepfm', 'lr') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'lr'), '']
    default_cmd, default_doc = cmd, doc

    # 2. the Criteo sample
    files = {n: os.path.join(args.criteo, f'{n}.txt') for n in ('train', 'valid', 'test')}
    criteo_args = None
    if all(os.path.isfile(f) for f in files.values()):
        rel = {n: os.path.relpath(f, ROOT) for n, f in files.items()}
        criteo_args = [*CHAPTER, '--format', 'criteo', '--train', rel['train'], '--valid',
                       rel['valid'], '--test', rel['test'], '--patience', '5']
        cmd, doc = run('compare', criteo_args, out('criteo'), log)
        preds, labels = test_predictions(out('criteo'), doc, criteo_args)
        md += ['## Real Criteo rows: FM vs DeepFM vs LR', '', f'`{cmd}`', '',
               data_line(doc) + f' (looked in `{os.path.relpath(args.criteo, ROOT)}`; the '
               'validation file picks the epoch)', '', summary_table(doc), '',
               '- ' + gap_line(doc, 'deepfm', 'lr') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'lr'),
               '- ' + gap_line(doc, 'deepfm', 'fm') + '; ' + bootstrap_gap(preds, labels, 'deepfm', 'fm'),
               '']
    else:
        md += ['## Real Criteo rows', '', f'Not run: no train.txt, valid.txt and test.txt in '
               f'`{os.path.abspath(args.criteo)}` (pass `--criteo DIR`).', '']

    # 2a. the Avazu sample
    lines, avazu_args = avazu_section(args.avazu, out('avazu'), log)
    md += lines

    # 2b. penalties picked on validation (not in the chapter)
    md += ['## Penalties picked on validation (`--wd auto`, not in the chapter)', '',
           'The chapter trains without any penalty, and both models overfit within 2–3 epochs, '
           'while LR gets its L2 strength C picked on validation data. `--wd auto` gives FM and '
           'DeepFM the same: it trains each model once (seed 0) per pair of penalties of a fixed '
           'grid (`d2l_deepfm/experiment/tuning.py`: the first-order weights, bias and MLP, and the factor '
           'embedding apart, in multiples of 1/n like C), keeps the pair with the lowest '
           'validation logloss and trains every seed with it; the test rows play no part. '
           f"Smaller steps too ({' '.join(TUNED[:4])}): the chapter's batch of 2048 makes 4 "
           'steps an epoch on the Criteo sample.', '',
           '| data | model | test AUC | test logloss | epoch picked (per seed) | penalties picked (wd, wd_embedding) |',
           '|---|---|---|---|---|---|']
    regularized = [('default', EARLY)] + ([('Criteo', criteo_args)] if criteo_args else []) \
        + ([('Avazu', avazu_args)] if avazu_args else [])
    gaps = []
    for data, extra in regularized:
        cmd, doc = run('compare', [*extra, *TUNED], out(f'{data.lower()}-auto'), log)
        preds, labels = test_predictions(out(f'{data.lower()}-auto'), doc, [*extra, *TUNED])
        for name, line in zip(doc['summary'], summary_table(doc).split('\n')[2:]):
            chosen = doc.get('tuning', {}).get(name, {}).get('chosen')
            picked = f"{chosen['wd']:.3g}, {chosen['wd_embedding']:.3g}" if chosen else '–'
            md.append(f'| {data} {line} {picked} |')
        gaps += [f'- {data}: ' + gap_line(doc, a, b) + '; ' + bootstrap_gap(preds, labels, a, b)
                 for a, b in (('deepfm', 'fm'), ('deepfm', 'lr'))] + [f'- {data}: `{cmd}`']
    md += [''] + gaps + ['']
    if criteo_args:
        md += ["The Criteo sample's test file has 391 rows (a test AUC on it is uncertain by about "
               '±0.03); `python scripts/criteo_cv.py` cross-validates the same commands over all '
               '8,000 rows (10 folds, paired by fold): [docs/criteo_cv.md](docs/criteo_cv.md).', '']

    # 2b. the default protocol (no flags), beside the chapter's
    md += ['## The default protocol (`python -m d2l_deepfm.compare`, no flags)', '',
           'A seeded 10% validation hold-out (or the `--valid` file), the epoch with the lowest '
           'validation logloss (stop after 3 epochs without improvement, at most 50), Adam lr '
           'FM 0.003 / DeepFM 0.002, batches of 512 (fewer on small data), L2 penalties scaled '
           'by 1/n (FM 30/n and 300/n, DeepFM 3/n and 300/n for first-order/bias/MLP and '
           'factors), DeepFM\'s MLP 128-64; README and docs/defaults.md say why. Intervals: '
           'the mean gap over the seeds, covering the seed-to-seed spread and the test rows '
           '(experiment.stats.gap_interval).', '',
           '| data | model | test AUC | test logloss | epoch picked (per seed) |', '|---|---|---|---|---|']
    defaults = [('default', [])] + ([('Criteo', [a for a in criteo_args[2:] if a not in
                                                 ('--patience', '5')])] if criteo_args else [])
    gaps = []
    for data, extra in defaults:
        cmd, doc = run('compare', extra, out(f'{data.lower()}-default-protocol'), log)
        md += [f'| {data} {line}' for line in summary_table(doc).split('\n')[2:]]
        gaps += [f"- {data}: {NAMES[k.split('-')[0]]} − {NAMES[k.split('-')[1]]} test AUC "
                 f"**{c['gap']:+.4f}**, 95% interval [{c['low']:+.4f}, {c['high']:+.4f}]"
                 for k, c in doc.get('comparison', {}).items()] + [f'- {data}: `{cmd}`']
    md += [''] + gaps + ['']

    # 3. the chapter's loss vs the fix
    md += ["## The chapter's double sigmoid vs the fix", '',
           "`--loss chapter` trains with the text's `SigmoidBinaryCrossEntropyLoss()` on the "
           "model's probability (a second sigmoid); `fixed` (the default) uses "
           '`from_sigmoid=True`. "last of 30" is the chapter\'s protocol (report the last '
           'epoch); "validation" picks the epoch as above.', '',
           '| data | loss | epoch reported | model | test AUC | test logloss | command |',
           '|---|---|---|---|---|---|---|']
    variants = [('default', 'chapter', 'last of 30', [*CHAPTER, '--model', 'both', '--loss', 'chapter']),
                ('default', 'fixed', 'last of 30', [*CHAPTER, '--model', 'both']),
                ('default', 'chapter', 'validation', ['--model', 'both', '--loss', 'chapter', *EARLY])]
    if criteo_args:
        variants.append(('Criteo', 'chapter', 'validation', ['--model', 'both', '--loss', 'chapter',
                                                              *criteo_args]))
    rows = {}
    for data, loss, protocol, extra in variants[:2]:
        name = f"{data.lower()}-{loss}-last"
        rows[(data, loss, protocol)] = run('compare', extra, out(name), log)
    rows[('default', 'fixed', 'validation')] = (default_cmd, default_doc)
    for data, loss, protocol, extra in variants[2:]:
        name = f"{data.lower()}-{loss}-{'last' if protocol.startswith('last') else 'valid'}"
        rows[(data, loss, protocol)] = run('compare', extra, out(name), log)
    for (data, loss, protocol), (cmd, doc) in rows.items():
        for model in ('fm', 'deepfm'):
            s = doc['summary'][model]
            md.append(f"| {data} | {loss} | {protocol} | {NAMES[model]} | {pm(s['test_auc'])} | "
                      f"{pm(s['test_logloss'])} | `{cmd}` |")
    picked = '; '.join(f"{data} {NAMES[m]} {', '.join(map(str, doc['summary'][m]['best_epoch']))}"
                       for (data, loss, protocol), (_, doc) in rows.items()
                       if loss == 'chapter' and protocol == 'validation' for m in ('fm', 'deepfm'))
    md += ['', "Epochs picked on validation with the chapter's loss (per seed): " + picked + '. '
           'The second sigmoid keeps pushing the probabilities towards 0 and 1, so their validation '
           'logloss rises from the first epochs on and picking the epoch by it stops being useful: '
           'the double sigmoid breaks early stopping as well as calibration.', '']

    # 4. the MLP-structure sweep (chapter exercise)
    results, commands = mlp_sweep.sweep(extra=(), out=out('mlp_sweep'), log=log)
    fm_auc = default_doc['summary']['fm']['test_auc']['mean']
    lr_auc = default_doc['summary']['lr']['test_auc']['mean']
    os.makedirs(os.path.dirname(args.figure), exist_ok=True)
    mlp_sweep.plot(results, args.figure, reference={'FM': fm_auc, 'LR': lr_auc},
                   title='DeepFM: MLP structure (default data, validation-picked epoch)')
    md += ['## Exercise: the structure of the MLP', '',
           'DeepFM on the default data with different hidden layers (`--mlp-dims`), same '
           'protocol (seeds 0, 1, 2, validation-picked epoch). 30,20,10 is the chapter\'s, '
           '400,400,400 the DeepFM paper\'s.', '',
           f'![MLP sweep]({os.path.relpath(args.figure, ROOT)})', '',
           '| hidden layers | test AUC | test logloss | epoch picked | command |', '|---|---|---|---|---|']
    for d, s in results.items():
        md.append(f"| {d} | {pm(s['test_auc'])} | {pm(s['test_logloss'])} | "
                  f"{', '.join(map(str, s['best_epoch']))} | `{commands[d]}` |")
    md += ['', f'Total time: {time.perf_counter() - start:.0f} s.', '']
    with open(args.results, 'w') as f:
        f.write('\n'.join(md))
    log(f'wrote {args.results} and {args.figure} ({time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main()
