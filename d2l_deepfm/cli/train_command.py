"""python -m d2l_deepfm.train: train FM and/or DeepFM as in the chapter and compare them.

Reads train.csv/test.csv in the chapter's layout (default: d2l's ctr data, or a synthetic
stand-in when offline), or your own files (--format criteo, csv, tsv, avazu; README "Your own
data"), trains with the default protocol (a validation hold-out picks the epoch; penalties; FM,
DeepFM and LR side by side) or the chapter's (--protocol chapter), and writes into --out:
config.json, metrics.json, convergence.png, <model>.params and feature_map.json, a checkpoint
after every epoch (--resume continues from it), and a line in the results CSV. --config OUT/config.json repeats a run.

This module is the command line only: flags -> RunConfig -> experiment.run.run -> exit status.
"""
import dataclasses
import sys

from ..errors import ConfigError, TrainingDiverged, run_command
from ..experiment.checkpoints import Run
from ..experiment.config import (DataConfig, ModelConfig, MODEL_CHOICES, OutputConfig, RunConfig,
                                TrainConfig, FORMATS, KVSTORES, PROTOCOLS)
from ..files import sigterm_as_interrupt
from ..options import (Parser, device_list, fraction, int_list, name_list, penalty, positive,
                      rate, seed_list, non_negative_int)

DESCRIPTION = ('Train FM, DeepFM and the LR baseline and compare them (the default protocol), '
               "or run the chapter's experiment (--protocol chapter).")


def build_parser(prog='python -m d2l_deepfm.train', description=DESCRIPTION):
    p = Parser(prog=prog, description=description)
    p.add_argument('--config', metavar='FILE',
                   help="repeat the run recorded in FILE (a run's config.json); only --out, "
                        '--results, --no-progress and --debug may be given with it')
    p.add_argument('--protocol', choices=tuple(PROTOCOLS), default='default',
                   help="default: a seeded 10%% validation hold-out picks the epoch (stop after 3 "
                        'epochs without improvement, at most 50), batches of 512 (fewer rows on '
                        'small data), lr FM 0.003 / DeepFM 0.002, L2 penalties scaled by 1/n, '
                        "DeepFM's MLP 128-64, FM, DeepFM and LR (README, "
                        "docs/defaults.md); chapter: the chapter's experiment (whole training "
                        'file, 30 epochs, batch 2048, the last epoch reported, no penalty, MLP '
                        '30-20-10, FM and DeepFM); flags given override')
    p.add_argument('--model', choices=MODEL_CHOICES,
                   help='both: FM and DeepFM; lr: the logistic-regression baseline; all: the three '
                        '(default protocol: all; chapter: both)')
    p.add_argument('--data-dir', help='folder with train.csv and test.csv in the chapter layout '
                   '(default: data/ctr, downloaded if missing, else synthetic data)')
    p.add_argument('--data-root', default='data', help='where the default data is cached (default: data)')
    p.add_argument('--no-download', action='store_true', help='do not try to download ctr.zip')
    p.add_argument('--format', choices=FORMATS, default='d2l',
                   help="d2l: the chapter's layout; criteo: Kaggle Criteo rows (tab-separated, or CSV "
                   "with a header); csv, tsv: a table with a header line; avazu: Avazu's CSV (id "
                   "dropped, hour -> hour of day and day of week). gzip'd files are read as they are")
    p.add_argument('--label', metavar='COL', help='the label column (default: label, click or y, any case)')
    p.add_argument('--drop', type=name_list, metavar='COLS',
                   help="columns to ignore, e.g. ids (comma-separated; shell patterns such as 'id*' too)")
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
                   help='stop when the validation logloss has not improved for N epochs '
                        '(default protocol: 3)')
    p.add_argument('--seeds', type=seed_list, metavar='0,1,2',
                   help='train each model once per seed; report mean ± std (overrides --seed)')
    p.add_argument('--epochs', type=positive(int),
                   help='at most this many epochs (default protocol: 50; chapter: 30)')
    p.add_argument('--batch-size', type=positive(int),
                   help='default protocol: 512, or n/8 rounded down to a power of two (at '
                        'least 32) on fewer than 4,096 training rows; chapter: 2048')
    p.add_argument('--lr', type=positive(float), help='learning rate (default protocol: FM 0.003, '
                   'DeepFM 0.002; chapter: FM 0.02, DeepFM 0.01)')
    p.add_argument('--num-factors', type=positive(int), help='embedding size (chapter: FM 20, DeepFM 10)')
    p.add_argument('--mlp-dims', type=int_list, help="DeepFM hidden layers (default protocol: "
                        "128,64; chapter: 30,20,10; the DeepFM paper's: 400,400,400)")
    p.add_argument('--dropout', type=rate, help='DeepFM dropout rate, in [0, 1) (chapter: 0.1)')
    p.add_argument('--wd', type=penalty, help='L2 weight decay (Adam wd) for FM and DeepFM (not in '
                   "the chapter: none); 'auto': pick it and --wd-embedding on the validation set "
                   '(experiment/tuning.py)')
    p.add_argument('--wd-embedding', type=positive(float), metavar='WD',
                   help='L2 weight decay of the factor embedding v_i instead of --wd (not in the chapter)')
    p.add_argument('--min-threshold', type=positive(int), default=4,
                   help='values seen fewer times in training map to the field default (chapter: 4)')
    p.add_argument('--hash-buckets', type=positive(int), metavar='N',
                   help="the hashing trick (not in the chapter): each field's values hashed into "
                        'N buckets instead of the vocabulary (--min-threshold does not apply)')
    p.add_argument('--loss', choices=('fixed', 'chapter'), default='fixed',
                   help="'chapter' reproduces the text's double sigmoid (see README)")
    p.add_argument('--sparse-grad', choices=('auto', 'on', 'off'), default='auto',
                   help='row-sparse embedding gradients with lazy Adam (auto: from 300,000 '
                        'features, where they are faster; see docs/performance.md)')
    p.add_argument('--devices', type=device_list,
                   help='e.g. cpu:0,cpu:1 or gpu:0,gpu:1 (default: every GPU, else the CPU)')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--data-store', help='a store written by python -m d2l_deepfm.preprocess '
                   '(memory-mapped, read in shuffled blocks; replaces --data-dir)')
    p.add_argument('--block-rows', type=positive(int), default=1 << 20,
                   help='rows read at a time from --data-store (default 1048576)')
    p.add_argument('--kvstore', default='device', choices=KVSTORES,
                   help='Gluon kvstore; dist_* run under python -m d2l_deepfm.launch, one '
                   'shard per worker, outputs from rank 0 (default device)')
    p.add_argument('--out', default='runs/latest', help='output folder (default: runs/latest)')
    p.add_argument('--results', metavar='FILE',
                   help='results CSV that gets one line per finished run (default: results.csv '
                        'beside --out)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --out from its last complete epoch')
    p.add_argument('--strict', action='store_true',
                   help='a malformed row is an error (default: skipped, counted and reported)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars or per-epoch lines')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def config_from_args(args, argv=None, prog='python -m d2l_deepfm.train'):
    """The RunConfig the flags describe (checked); flags not given take the protocol's value."""
    preset = PROTOCOLS[args.protocol]

    def pick(key):
        value = getattr(args, key)
        return preset[key] if value is None else value
    valid_fraction = args.valid_fraction
    if valid_fraction is None and not (args.valid or args.data_store):
        valid_fraction = preset['valid_fraction']
    patience = pick('patience') if (args.valid or valid_fraction or args.data_store) \
        else args.patience
    return RunConfig(
        data=DataConfig(data_dir=args.data_dir, data_root=args.data_root,
                        download=not args.no_download, format=args.format, label=args.label,
                        drop=args.drop, numeric=args.numeric, train=args.train, test=args.test,
                        test_fraction=args.test_fraction, valid=args.valid,
                        valid_fraction=valid_fraction,
                        min_threshold=args.min_threshold, strict=args.strict,
                        hash_buckets=args.hash_buckets,
                        store=args.data_store, block_rows=args.block_rows),
        model=ModelConfig(model=pick('model'), num_factors=args.num_factors, lr=args.lr,
                          mlp_dims=args.mlp_dims, dropout=args.dropout, wd=args.wd,
                          wd_embedding=args.wd_embedding, loss=args.loss,
                          sparse_grad=args.sparse_grad),
        train=TrainConfig(epochs=pick('epochs'), batch_size=pick('batch_size'), patience=patience,
                          seed=args.seed, seeds=args.seeds, devices=args.devices,
                          kvstore=args.kvstore, protocol=args.protocol),
        output=OutputConfig(out=args.out, resume=args.resume, progress=not args.no_progress,
                            results=args.results),
        command=[*prog.split(), *(sys.argv[1:] if argv is None else argv)],
    ).check()


def config_from_argv(argv, prog='python -m d2l_deepfm.train', defaults=None):
    """The RunConfig of a command line's flags (for scripts: they run it with experiment.run.run)."""
    parser = build_parser(prog)
    if defaults:
        parser.set_defaults(**defaults)
    return config_from_args(parser.parse_args(argv), argv, prog)


WITH_CONFIG = {'config', 'out', 'results', 'no_progress', 'debug'}


def config_of(parser, args, argv):
    """The run's config: from --config FILE (with --out/--results/--no-progress), or the flags."""
    if not args.config:
        return config_from_args(args, argv, parser.prog)
    given = sorted(k for k, v in vars(args).items()
                   if k not in WITH_CONFIG and v != parser.get_default(k))
    if given:
        raise ConfigError(f'--config repeats a recorded run: drop --{given[0].replace("_", "-")} '
                          '(only --out, --results, --no-progress and --debug go with it)')
    config = RunConfig.load(args.config)
    output = dataclasses.replace(config.output, resume=False)
    if args.out != parser.get_default('out'):
        output = dataclasses.replace(output, out=args.out)
    if args.results:
        output = dataclasses.replace(output, results=args.results)
    if args.no_progress:
        output = dataclasses.replace(output, progress=False)
    return config.replace(output=output)


def main(argv=None, prog='python -m d2l_deepfm.train', description=DESCRIPTION, defaults=None):
    """Exit status: 0 done, 2 a user mistake (bad data, options or --out), 3 the training
    diverged, 130 interrupted (Ctrl-C or SIGTERM; the last complete epoch is saved)."""
    parser = build_parser(prog, description)
    if defaults:
        parser.set_defaults(**defaults)
    args = parser.parse_args(argv)
    out = args.out

    def train():
        nonlocal out
        config = config_of(parser, args, argv)
        out = config.output.out
        from ..experiment.run import run      # late: loads MXNet (--help and option errors stay fast)
        with sigterm_as_interrupt():
            run(config)

    def diverged(e):
        print(f'error: {e}; the last good epochs are kept in {out}/checkpoints '
              f'({Run(out).progress()}); try a smaller --lr in a new --out', file=sys.stderr)
        return 3

    def out_of_memory(e):
        from ..experiment.memory import explain     # late: MXNet is loaded by now
        message = explain(e)
        if message is None:
            raise e
        print(f'error: {message}', file=sys.stderr)
        return 2

    try:
        return run_command(train, args.debug, out, [(TrainingDiverged, diverged),
                                                    (MemoryError, out_of_memory),
                                                    (RuntimeError, out_of_memory)])
    except KeyboardInterrupt:
        print(f'interrupted; saved in {out}/checkpoints: {Run(out).progress()}; '
              'continue with --resume', file=sys.stderr)
        return 130
