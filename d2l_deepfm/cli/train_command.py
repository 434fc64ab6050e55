"""python -m d2l_deepfm.train: train FM and/or DeepFM as in the chapter and compare them.

Reads train.csv/test.csv in the chapter's layout (default: d2l's ctr data, or a synthetic
stand-in when offline), or your own files (--format criteo, csv, tsv, avazu; README "Your own
data"), trains with the default protocol (a validation hold-out picks the epoch; penalties; FM,
DeepFM and LR side by side) or the chapter's (--protocol chapter), and writes a run folder
(--out, default a new runs/<date>_<time>; run_folder.py): config.json, metrics.json, the figures,
the models and feature_map.json, a checkpoint after every epoch (--resume continues from it),
and lines in the runs root's results table (python -m d2l_deepfm.runs shows it). --config
OUT/config.json repeats a run.

This module is the command line only: flags -> RunConfig -> experiment.run.run -> exit status.
The options are declared once, in experiment/flags.py (docs/options.md is made from them).
"""
import dataclasses
import sys

from .. import run_folder
from ..errors import ConfigError, TrainingDiverged, run_command
from ..experiment.checkpoints import Run
from ..experiment.config import DataConfig, ModelConfig, OutputConfig, RunConfig, TrainConfig
from ..experiment.flags import config_parts
from ..experiment.flags_help import add_to
from ..files import sigterm_as_interrupt
from ..options import Parser

DESCRIPTION = ('Train FM, DeepFM and the LR baseline and compare them (the default protocol), '
               "or run the chapter's experiment (--protocol chapter).")


def build_parser(prog='python -m d2l_deepfm.train', description=DESCRIPTION):
    """The train command's parser: every option of experiment/flags.py (declared there once)."""
    return add_to(Parser(prog=prog, description=description))


def config_from_args(args, argv=None, prog='python -m d2l_deepfm.train'):
    """The RunConfig the flags describe (checked); flags not given take the protocol's value
    (RunConfig applies it, as for a config made in Python)."""
    parts = config_parts(args)
    return RunConfig(data=DataConfig(**parts['data']), model=ModelConfig(**parts['model']),
                     train=TrainConfig(**parts['train']), output=OutputConfig(**parts['output']),
                     command=[*prog.split(), *(sys.argv[1:] if argv is None else argv)]).check()


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
    output = dataclasses.replace(config.output, resume=False, out=args.out)   # never the recorded run's
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
    out = args.out or run_folder.ROOT         # the run's folder once it has one

    def train():
        nonlocal out
        config = config_of(parser, args, argv)
        from ..experiment.run import run      # late: loads MXNet (--help and option errors stay fast)
        with run_folder.allocated(config.output.out) as out, sigterm_as_interrupt():
            run(config.replace(output=dataclasses.replace(config.output, out=out)))

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
