"""Mutation check: plant one deliberate bug at a time in a copy of the repository and run the
tests that should catch it. Not part of CI (minutes); its last result is in docs/testing.md.

    OMP_NUM_THREADS=1 python scripts/mutation_check.py              # every mutation
    python scripts/mutation_check.py --list                         # what each one does
    python scripts/mutation_check.py --only dropout-zero,rule-gt    # some of them
    python scripts/mutation_check.py --jobs 2                       # two at a time

Each mutation is an exact text replacement in one file; if its target text is not found exactly
once, the script stops with an error (so that the list cannot silently rot when the code
changes). For each one: the package, tests, notebooks and scripts are copied into a temporary
folder, the replacement is applied there, and `pytest -x` runs the named tests with PYTHONPATH
set to the copy. "caught" means the tests failed; exit status 1 if any mutation is missed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPIED = ('d2l_deepfm', 'tests', 'notebooks', 'scripts', 'pytest.ini', 'setup.py')


@dataclass
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple


M = Mutation
MUTATIONS = [
    # --- the models' formulas -------------------------------------------------------------
    M('fm-pairwise-half', "FM's pairwise term without the 1/2", 'd2l_deepfm/models.py',
      'pairwise = 0.5 * sum_fields(', 'pairwise = 1.0 * sum_fields(', ('tests/test_models.py',)),
    M('fm-sum-of-square-sign', "FM's pairwise term: square_of_sum + sum_of_square",
      'd2l_deepfm/models.py', 'sum_fields(F, square_of_sum - sum_of_square,',
      'sum_fields(F, square_of_sum + sum_of_square,',
      ('tests/test_models.py',)),
    M('fm-no-first-order', "FM without its first-order terms", 'd2l_deepfm/models.py',
      'return first_order + pairwise', 'return 0 * first_order + pairwise', ('tests/test_models.py',)),
    M('deepfm-no-fm-part', 'DeepFM = sigmoid(MLP) only', 'd2l_deepfm/models.py',
      'F.npx.sigmoid(self.fm_part(F, x, embed_x) + self.mlp(inputs))',
      'F.npx.sigmoid(0 * self.fm_part(F, x, embed_x) + self.mlp(inputs))', ('tests/test_models.py',)),
    M('dropout-zero', "DeepFM's dropout forced to 0", 'd2l_deepfm/models.py',
      'nn.Dropout(rate=drop_rate)', 'nn.Dropout(rate=0.0)', ('tests/test_models.py',)),
    M('dropout-not-passed', "the run's dropout rate not passed to DeepFM", 'd2l_deepfm/models.py',
      "settings['dropout'], sparse_grad=sparse_grad", '0.5, sparse_grad=sparse_grad',
      ('tests/test_models.py',)),
    # --- the compiled operators (d2l_deepfm/kernels: rebuilt in the copy, its sources changed) ---
    M('kernel-pairwise-half', "the compiled FM pairwise term without the 1/2",
      'd2l_deepfm/kernels/fm_ops.cc', 'c + 0.5f * total;', 'c + 1.0f * total;',
      ('tests/kernels/test_kernels.py',)),
    M('kernel-pairwise-grad', "the compiled pairwise gradient without the field's own term",
      'd2l_deepfm/kernels/fm_ops.cc', 'gb * (sum[j] - row[j]) + gf[j]', 'gb * sum[j] + gf[j]',
      ('tests/kernels/test_kernels.py',)),
    M('kernel-first-order-grad-repeats', 'the compiled first-order gradient keeps one occurrence of a row',
      'd2l_deepfm/kernels/fm_ops.cc', 'dw[idx[f]] += gb * a;', 'dw[idx[f]] = gb * a;',
      ('tests/kernels/test_kernels.py',)),
    M('kernel-dropout-unscaled', 'the compiled dropout keeps values without the 1/(1-p) scale',
      'd2l_deepfm/kernels/fm_ops.cc', 'mask[i] = (r & 0xFFFFFFFFULL) < threshold ? 0.f : scale;',
      'mask[i] = (r & 0xFFFFFFFFULL) < threshold ? 0.f : 1.f;', ('tests/kernels/test_kernels.py',)),
    # --- learning --------------------------------------------------------------------------
    M('frozen-embeddings', 'the factor embeddings frozen (learning rate x 0)', 'd2l_deepfm/training.py',
      "    return gluon.Trainer(net.collect_params(), 'adam', params, kvstore=kvstore)",
      "    net.embedding.weight.lr_mult = 0.0\n"
      "    return gluon.Trainer(net.collect_params(), 'adam', params, kvstore=kvstore)",
      ('tests/test_learning.py',)),
    M('double-sigmoid', "the fixed loss takes the sigmoid twice (the text's bug back)",
      'd2l_deepfm/training.py', 'return gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)',
      'return gluon.loss.SigmoidBinaryCrossEntropyLoss()', ('tests/test_training.py',)),
    M('cli-ignores-loss', '--loss ignored by the run (always the fixed loss)',
      'd2l_deepfm/experiment/run.py', 'training.make_loss(config.model.loss)',
      "training.make_loss('fixed')", ('tests/cli/test_flags.py',)),
    M('accuracy-at-0.99', 'accuracy thresholded at 0.99 instead of 0.5', 'd2l_deepfm/metrics.py',
      "'acc': float(onp.mean((p > 0.5) == labels))", "'acc': float(onp.mean((p > 0.99) == labels))",
      ('tests/test_training.py',)),
    M('predict-reports-auc-as-acc', "predict's accuracy figure shows another number",
      'd2l_deepfm/cli/predict_command.py', "acc {metrics['acc']:.4f}", "acc {metrics['auc']:.4f}",
      ('tests/cli/test_flags.py',)),
    # --- the mapping rule --------------------------------------------------------------------
    M('rule-gt', 'min_threshold: > instead of >= (a value seen exactly min_threshold times dropped)',
      'd2l_deepfm/mapping.py', 'keep = onp.asarray(counts) >= min_threshold',
      'keep = onp.asarray(counts) > min_threshold', ('tests/test_mapping.py',)),
    M('unseen-to-zero', "values not in the map -> index 0 instead of the field's default",
      'd2l_deepfm/mapping.py', 'out[j] = onp.where(pos < 0, defaults[j + 1],',
      'out[j] = onp.where(pos < 0, 0,', ('tests/test_mapping.py',)),
    M('rare-to-zero', "rare training values -> index 0 instead of the default",
      'd2l_deepfm/mapping.py', 'onp.where(keep, onp.cumsum(keep) - 1, num_kept)',
      'onp.where(keep, onp.cumsum(keep) - 1, 0)', ('tests/test_mapping.py',)),
    M('order-not-first-appearance', 'kept values numbered in reverse order of appearance',
      'd2l_deepfm/mapping.py', 'onp.where(keep, onp.cumsum(keep) - 1, num_kept)',
      'onp.where(keep, num_kept - onp.cumsum(keep), num_kept)', ('tests/test_mapping.py',)),
    M('field-dims-no-default', "field_dims without the default index's slot", 'd2l_deepfm/mapping.py',
      'onp.array([defaults[i] + 1 for i in sorted(defaults)]',
      'onp.array([defaults[i] for i in sorted(defaults)]', ('tests/test_mapping.py',)),
    M('offsets-inclusive', 'offsets as the inclusive cumulative sum', 'd2l_deepfm/mapping.py',
      'onp.concatenate(([0], onp.cumsum(field_dims)[:-1]))', 'onp.cumsum(field_dims)',
      ('tests/test_mapping.py',)),
    M('cli-ignores-min-threshold', '--min-threshold not passed to the data', 'd2l_deepfm/experiment/splits.py',
      'min_threshold=d.min_threshold,', 'min_threshold=4,', ('tests/cli/test_flags.py',)),
    # --- input checks and error lines ------------------------------------------------------
    M('label-2-accepted', 'the label check accepts 2', 'd2l_deepfm/inputs/d2l_layout.py',
      'bad = ~onp.isin(labels, (0, 1))', 'bad = ~onp.isin(labels, (0, 1, 2))', ('tests/inputs/test_checks.py',)),
    M('one-class-accepted', 'training data with one class accepted', 'd2l_deepfm/inputs/checks.py',
      'if positives in (0, len(labels)):', 'if positives in (-1,):', ('tests/inputs/test_checks.py',)),
    M('extra-error-line', 'a second line on stderr after `error:`', 'd2l_deepfm/errors.py',
      "        if isinstance(e, UserError):\n            print(f'error: {e}', file=sys.stderr)\n",
      "        if isinstance(e, UserError):\n            print(f'error: {e}', file=sys.stderr)\n"
      "            print('(run with --debug for details)', file=sys.stderr)\n",
      ('tests/inputs/test_checks.py',)),
    M('bad-data-exit-1', 'exit status 1 instead of 2 for bad data', 'd2l_deepfm/errors.py',
      "            print(f'error: {e}', file=sys.stderr)\n            return 2",
      "            print(f'error: {e}', file=sys.stderr)\n            return 1", ('tests/inputs/test_checks.py',)),
    M('usage-block', "argparse's usage block back before the error line", 'd2l_deepfm/options.py',
      "        self.exit(2, f'error: {message}; see {self.prog} --help\\n')",
      "        self.print_usage(__import__('sys').stderr)\n"
      "        self.exit(2, f'error: {message}; see {self.prog} --help\\n')",
      ('tests/cli/test_cli.py::test_user_mistakes_get_one_line_and_nonzero_exit',)),
    M('usage-exit-1', 'a bad option exits with status 1', 'd2l_deepfm/options.py',
      "self.exit(2, f'error: {message}", "self.exit(1, f'error: {message}",
      ('tests/cli/test_cli.py::test_user_mistakes_get_one_line_and_nonzero_exit',)),
    M('diverged-exit-2', 'a diverged run exits 2 instead of 3', 'd2l_deepfm/cli/train_command.py',
      "try a smaller --lr in a new --out', file=sys.stderr)\n        return 3",
      "try a smaller --lr in a new --out', file=sys.stderr)\n        return 2",
      ('tests/experiment/test_checkpoints.py::test_cli_divergence_exits_3_with_one_error_line',)),
    # --- figures ------------------------------------------------------------------------------
    M('empty-plot', 'a convergence plot with no curves', 'd2l_deepfm/experiment/report.py',
      "line, = ax.plot(epochs, [r[key] for r in history], marker='.'",
      "line, = ax.plot([], [], marker='.'", ('tests/experiment/test_figures.py',)),
    M('plot-wrong-metric', 'every panel plots the training loss', 'd2l_deepfm/experiment/report.py',
      "[r[key] for r in history], marker='.'", "[r['train_loss'] for r in history], marker='.'",
      ('tests/experiment/test_figures.py',)),
    M('best-epoch-unmarked', 'the picked epoch not marked', 'd2l_deepfm/experiment/report.py',
      'if best and best.get(name) is not None:', 'if False:', ('tests/experiment/test_figures.py',)),
    M('picked-epoch-no-legend', "the picked-epoch marks without a legend entry",
      'd2l_deepfm/experiment/report.py', 'if best and any(v is not None for v in best.values()):',
      'if False:', ('tests/experiment/test_figures.py',)),
    # --- run folders, the runs table, predict without MXNet -----------------------------------
    M('latest-not-marked', 'runs/latest not pointed at the new run', 'd2l_deepfm/experiment/run.py',
      'if not run_folder.mark_latest(out):', 'if False:', ('tests/cli/test_runs.py',)),
    M('run-folders-collide', 'two runs in the same second share a folder name',
      'd2l_deepfm/run_folder.py', "path = os.path.join(root, stem if i == 1 else f'{stem}-{i}')",
      'path = os.path.join(root, stem)', ('tests/test_run_folder.py',)),
    M('numpy-pairwise-half', "numpy predict's pairwise term without the 1/2",
      'd2l_deepfm/scoring/weights.py', "pairwise = 0.5 * (onp.square(onp.einsum('nfk->nk', v))",
      "pairwise = 1.0 * (onp.square(onp.einsum('nfk->nk', v))", ('tests/scoring/test_numpy_predict.py',)),
    M('missing-model-not-damaged', "a trained model's missing file not called damage",
      'd2l_deepfm/scoring/trained.py', 'if not os.path.isfile(model_file(model_dir, name)):',
      'if False:', ('tests/scoring/test_numpy_predict.py',)),
    M('blank-lines-dropped', "predict's output skips blank input lines",
      'd2l_deepfm/scoring/predictor.py',
      'if rows.lines is None or len(rows.lines) + bool(rows.header_line) == rows.total_lines:',
      'if True:', ('tests/scoring/test_numpy_predict.py',)),
    # --- validation, early stopping ----------------------------------------------------------
    M('early-stopping-never-improves', 'early stopping: > instead of < (never an improvement)',
      'd2l_deepfm/experiment/stopping.py', 'if record[self.key] < self.best:',
      'if record[self.key] > self.best:', ('tests/experiment/test_holdout.py',)),
    M('patience-off-by-one', 'early stopping waits one epoch too many', 'd2l_deepfm/experiment/stopping.py',
      'self.bad_epochs >= self.patience', 'self.bad_epochs > self.patience', ('tests/experiment/test_holdout.py',)),
    M('picked-on-test', 'the epoch picked on test logloss instead of validation',
      'd2l_deepfm/experiment/run.py', 'EarlyStopping(net, t.patience, prefix=prefix)',
      "EarlyStopping(net, t.patience, key='test_logloss', prefix=prefix)",
      ('tests/cli/test_compare.py::test_compare_with_early_stopping_seeds_and_baseline',)),
    M('best-not-restored', "the saved parameters are the last epoch's, not the picked one's",
      'd2l_deepfm/experiment/run.py', '        stopper.restore()\n', '        pass\n',
      ('tests/cli/test_compare.py::test_compare_with_early_stopping_seeds_and_baseline',)),
    # --- checkpoints and resume --------------------------------------------------------------
    M('resume-from-scratch', '--resume quietly retrains from scratch', 'd2l_deepfm/experiment/run.py',
      'if config.output.resume and checkpoint else []', 'if False else []',
      ('tests/experiment/test_checkpoints.py::test_sigkill_mid_epoch_then_resume_gives_the_same_numbers',)),
    M('adam-state-not-restored', "Adam's state not restored on resume", 'd2l_deepfm/experiment/checkpoints.py',
      "            trainer.load_states(os.path.join(self.folder, doc['states']))",
      '            pass', ('tests/experiment/test_checkpoints.py::test_resume_extends_a_finished_run_exactly',)),
    M('pointer-before-files', "the checkpoint's pointer written before its parameters and states",
      'd2l_deepfm/experiment/checkpoints.py',
      "            atomic_write(os.path.join(self.folder, params), net.save_parameters)\n"
      "            atomic_write(os.path.join(self.folder, states), trainer.save_states)\n",
      "            write_json(self.pointer, {'model': self.name, 'epoch': history[-1]['epoch'],\n"
      "                                      'params': params, 'states': states, 'config': config,\n"
      "                                      'signature': signature(net), 'history': history})\n"
      "            atomic_write(os.path.join(self.folder, params), net.save_parameters)\n"
      "            atomic_write(os.path.join(self.folder, states), trainer.save_states)\n",
      ('tests/experiment/test_checkpoints.py::test_a_failed_save_leaves_the_previous_epoch_whole',)),
    M('resume-ignores-seed-change', '--resume accepts another --seed', 'd2l_deepfm/experiment/checkpoints.py',
      "'seed': t.seed,", "'seed': 0,",
      ('tests/experiment/test_checkpoints.py::test_sigkill_mid_epoch_then_resume_gives_the_same_numbers',)),
]


def apply(mutation, folder):
    """Apply the mutation to the copy in `folder`; the target must occur exactly once."""
    path = os.path.join(folder, mutation.path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    count = text.count(mutation.old)
    if count != 1:
        raise SystemExit(f'mutation {mutation.name}: its target occurs {count} times in '
                         f'{mutation.path} (expected once): update scripts/mutation_check.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text.replace(mutation.old, mutation.new))


def problems(mutations):
    """What keeps mutations from running as listed: a target not found exactly once in this
    checkout, a named test file or test function that does not exist (tests/tools/test_mutations.py
    runs this, so that the list cannot rot)."""
    found = []
    for m in mutations:
        with open(os.path.join(ROOT, m.path), encoding='utf-8') as f:
            count = f.read().count(m.old)
        if count != 1:
            found.append(f'mutation {m.name}: its target occurs {count} times in {m.path} '
                         '(expected once)')
        for test in m.tests:
            path, _, name = test.partition('::')
            if not os.path.isfile(os.path.join(ROOT, path)):
                found.append(f'mutation {m.name}: no test file {path}')
                continue
            with open(os.path.join(ROOT, path), encoding='utf-8') as f:
                if name and not re.search(rf'^def {re.escape(name)}\(', f.read(), re.M):
                    found.append(f'mutation {m.name}: no test {name} in {path}')
    return found


def check_targets(mutations):
    """Every target found exactly once and every named test there, before anything runs."""
    found = problems(mutations)
    if found:
        raise SystemExit('\n'.join(found) + '\nupdate scripts/mutation_check.py')


def run_one(mutation, timeout):
    folder = tempfile.mkdtemp(prefix=f'mutation-{mutation.name}-')
    try:
        for name in COPIED:
            src = os.path.join(ROOT, name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(folder, name),
                                ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '.ipynb_checkpoints'))
            elif os.path.exists(src):
                shutil.copy2(src, folder)
        apply(mutation, folder)
        env = {**os.environ, 'PYTHONPATH': folder, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
        start = time.time()
        try:
            r = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider',
                                *mutation.tests], cwd=folder, env=env, capture_output=True, text=True,
                               timeout=timeout)
            code, tail = r.returncode, (r.stdout + r.stderr).strip().splitlines()[-1:]
        except subprocess.TimeoutExpired:
            code, tail = 'timeout', ['(timed out)']
        seconds = time.time() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # pytest: 0 all passed (missed), 1 a test failed (caught), other: error/interrupted
    verdict = {0: 'MISSED', 1: 'caught'}.get(code, f'caught? (pytest exit {code})')
    return mutation, verdict, seconds, tail[0] if tail else ''


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--only', help='comma-separated mutation names')
    p.add_argument('--list', action='store_true', help='list the mutations and exit')
    p.add_argument('--jobs', type=int, default=1, help='mutations run at a time (default 1)')
    p.add_argument('--timeout', type=float, default=900, help='seconds per mutation (default 900)')
    args = p.parse_args(argv)
    mutations = MUTATIONS
    if args.only:
        names = args.only.split(',')
        unknown = set(names) - {m.name for m in MUTATIONS}
        if unknown:
            raise SystemExit(f'unknown mutations: {", ".join(sorted(unknown))}')
        mutations = [m for m in MUTATIONS if m.name in names]
    if args.list:
        for m in mutations:
            print(f'{m.name:<32} {m.path}: {m.what}\n{"":<32} tests: {" ".join(m.tests)}')
        return 0
    check_targets(mutations)
    results = []
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for mutation, verdict, seconds, tail in pool.map(lambda m: run_one(m, args.timeout), mutations):
            results.append((mutation, verdict))
            print(f'{verdict:<8} {mutation.name:<32} {seconds:6.0f} s  {mutation.what}  [{tail}]', flush=True)
    missed = [m.name for m, v in results if v == 'MISSED']
    print(f'\n{len(results) - len(missed)} of {len(results)} mutations caught'
          + (f'; missed: {", ".join(missed)}' if missed else ''))
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
