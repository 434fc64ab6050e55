"""The pictures and figures of docs/export-explain.md: export, explain, calibration (docs/*.png).

    python scripts/serving_figures.py [--work DIR] [--criteo DIR]

Every run is `train --protocol chapter` (the chapter's settings) with the options shown.

1. calibration: FM, DeepFM and LR on the default synthetic data (15,000 / 3,000 rows, 10% held
   out for early stopping, patience 3), with the fixed loss and with --loss chapter: ECE and mean
   p / CTR per model, docs/calibration.png (the two runs side by side); the same with the
   chapter's protocol (30 epochs, no validation) and, with --criteo, on the Criteo sample
   (its valid.txt for early stopping; figures printed only).
2. export: the DeepFM of the fixed-loss run exported, its score.py run on the test rows under
   the scorer venv's Python (~/.cache/d2l_deepfm/scorer-venv, built by tests/scoring/test_export.py;
   else this Python) and compared with predict: docs/export.png.
3. explain: FM on 30,000 synthetic rows (lr 0.005, 4 epochs, batch 1024: tests/scoring/test_explain.py's
   run), its interaction heatmap: docs/interactions.png, the top pairs against the planted ones.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as onp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from d2l_deepfm.cli import explain_command as explain, export_command as export, predict_command as predict, train_command as train  # noqa: E402
from d2l_deepfm.experiment import calibration  # noqa: E402
from d2l_deepfm.experiment.report import LABELS, plt  # noqa: E402
from d2l_deepfm.datasets import synthetic  # noqa: E402

DOCS = os.path.join(ROOT, 'docs')
PLANTED = {(7, 8), (9, 10), (11, 12), (13, 14), (8, 15), (16, 17)}           # tests/scoring/test_explain.py
TRIPLE_PAIRS = {(1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6)}
VENV_PYTHON = os.path.expanduser('~/.cache/d2l_deepfm/scorer-venv/bin/python')


def trained(out, args):
    if not os.path.exists(os.path.join(out, 'metrics.json')):
        assert train.main(['--protocol', 'chapter'] + args + ['--out', out, '--no-progress',
                                                             '--results', out + '.csv']) == 0
    return json.load(open(os.path.join(out, 'metrics.json')))


def calibration_runs(work, data_args, tag):
    docs = {}
    for loss in ('fixed', 'chapter'):
        docs[loss] = trained(os.path.join(work, f'{tag}-{loss}'), data_args + ['--model', 'all', '--loss', loss])
    print(f'\ncalibration on the test set ({tag}):')
    print(f"{'model':<8}{'loss':<9}{'test AUC':>9}{'ECE':>8}{'mean p / CTR':>14}")
    for loss, doc in docs.items():
        for n in ('fm', 'deepfm', 'lr'):
            c = doc[n]['calibration']
            print(f"{LABELS[n]:<8}{loss:<9}{doc[n]['final']['test_auc']:>9.4f}{c['ece']:>8.4f}{c['ratio']:>14.3f}")
    return docs


def calibration_figure(docs, path):
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.2), sharex=True, gridspec_kw={'height_ratios': [3, 1]})
    for col, loss in enumerate(('fixed', 'chapter')):
        calibration.plot({n: docs[loss][n]['calibration'] for n in ('fm', 'deepfm', 'lr')},
                         title=f'--loss {loss}' + (' (default)' if loss == 'fixed' else ' (double sigmoid)'),
                         axes=(axes[0, col], axes[1, col]))
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def export_check(work, run, test_csv, path):
    folder = os.path.join(work, 'export')
    shutil.rmtree(folder, ignore_errors=True)
    assert export.main(['--model-dir', run, '--model', 'deepfm', '--out', folder]) == 0
    python = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
    scored = os.path.join(work, 'score.txt')
    subprocess.run([python, os.path.join(folder, 'score.py'), '--input', test_csv, '--output', scored],
                   check=True)
    version = subprocess.run([python, '-c', 'import platform, onnxruntime; '
                              'print(platform.python_version(), onnxruntime.__version__)'],
                             capture_output=True, text=True, check=True).stdout.split()
    assert predict.main(['--model-dir', run, '--model', 'deepfm', '--input', test_csv,
                         '--output', os.path.join(work, 'predict.txt')]) == 0
    a, b = onp.loadtxt(scored), onp.loadtxt(os.path.join(work, 'predict.txt'))
    diff = onp.abs(a - b)
    graph = json.load(open(os.path.join(folder, 'export.json')))['max_abs_diff']
    print(f'\nexport: score.py (Python {version[0]}, onnxruntime {version[1]}, no MXNet) vs predict '
          f'on {len(a)} test rows: max |difference| {diff.max():.2g}; the graph check: {graph:.2g}')
    print('  files: ' + ', '.join(f'{f} ({os.path.getsize(os.path.join(folder, f)) // 1024} KB)'
                                  for f in sorted(os.listdir(folder))))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.scatter(b, a, s=3, alpha=0.4)
    left.plot([0, 1], [0, 1], color='gray', linewidth=1, linestyle='--')
    left.set_xlabel('predict (MXNet)')
    left.set_ylabel(f'score.py (Python {version[0]}, ONNX)')
    left.set_title(f'DeepFM, {len(a)} test rows', fontsize=10)
    right.hist(onp.log10(onp.maximum(diff, 1e-10)), bins=30)
    right.axvline(-5, color='red', linestyle=':', label='tolerance 1e-5')
    right.set_xlabel('log10 |score.py - predict| (equal: -10)')
    right.set_ylabel('rows')
    right.set_title(f'max |difference| {diff.max():.1e}', fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def explain_check(work, path):
    data = os.path.join(work, 'ctr30k')
    if not os.path.exists(os.path.join(data, 'train.csv')):
        synthetic.make_dataset(data, num_train=30000, num_test=500, seed=3)
    run = os.path.join(work, 'fm30k')
    trained(run, ['--data-dir', data, '--model', 'fm', '--lr', '0.005', '--epochs', '4',
                  '--batch-size', '1024'])
    out = os.path.join(work, 'explained')
    assert explain.main(['--model-dir', run, '--out', out, '--rows', '3']) == 0
    ranked = [tuple(int(x) for x in line.split(',')[1:3])
              for line in open(os.path.join(out, 'interactions.csv')).read().splitlines()[1:]]
    marks = ['pair' if p in PLANTED else 'triple' if p in TRIPLE_PAIRS else '-' for p in ranked[:12]]
    print('\nexplain: the 12 strongest field pairs of FM (30,000 synthetic rows):')
    print('  ' + ', '.join(f'{i}x{j} ({m})' for (i, j), m in zip(ranked[:12], marks)))
    shutil.copyfile(os.path.join(out, 'interactions.png'), path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work', default=os.path.join(ROOT, 'runs', 'serving_figures'))
    p.add_argument('--criteo', help='the Criteo sample folder (train.txt, valid.txt, test.txt)')
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    data = os.path.join(args.work, 'ctr')
    if not os.path.exists(os.path.join(data, 'train.csv')):
        synthetic.make_dataset(data)
    docs = calibration_runs(args.work, ['--data-dir', data, '--valid-fraction', '0.1', '--patience', '3'],
                            'synthetic')
    calibration_figure(docs, os.path.join(DOCS, 'calibration.png'))
    calibration_runs(args.work, ['--data-dir', data], "synthetic-30-epochs")     # the chapter's protocol
    export_check(args.work, os.path.join(args.work, 'synthetic-fixed'), os.path.join(data, 'test.csv'),
                 os.path.join(DOCS, 'export.png'))
    explain_check(args.work, os.path.join(DOCS, 'interactions.png'))
    if args.criteo:
        files = [os.path.join(args.criteo, f'{n}.txt') for n in ('train', 'valid', 'test')]
        calibration_runs(args.work, ['--format', 'criteo', '--train', files[0], '--valid', files[1],
                                     '--test', files[2], '--patience', '3'], 'criteo')


if __name__ == '__main__':
    main()
