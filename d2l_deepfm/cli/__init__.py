"""The commands: flags -> a config -> one library call -> an exit status, nothing else.

Each is `python -m d2l_deepfm.<command>` (the thin modules at the package's top) and
`d2l-deepfm <command>` (this module's `main`, installed by setup.py). Imports nothing heavy:
every command's --help answers without loading MXNet.
"""
import importlib
import sys

COMMANDS = {
    'train': 'train FM, DeepFM and the LR baseline (the default protocol) or the chapter\'s experiment',
    'compare': 'the same as train, over seeds 0,1,2 by default: mean ± std and a verdict',
    'predict': 'score new rows with a trained run',
    'preprocess': 'a click log larger than memory -> a memory-mapped store',
    'launch': 'start an MXNet parameter-server job (scheduler, servers, workers)',
    'export': 'a trained model as ONNX and a standalone score.py (no MXNet)',
    'explain': 'which field pairs and fields drive a trained FM or DeepFM',
    'runs': 'the table of finished runs (runs/results.csv), sorted and filtered; --diff A B',
}


def usage():
    width = max(map(len, COMMANDS))
    lines = ['usage: d2l-deepfm <command> [options]   (d2l-deepfm <command> --help for its options)',
             '', 'commands:']
    lines += [f'  {name:<{width}}  {what}' for name, what in COMMANDS.items()]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        sys.stdout.write(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        sys.stderr.write(f'error: unknown command {name!r}: expected one of {", ".join(COMMANDS)}; '
                         'see d2l-deepfm --help\n')
        return 2
    command = importlib.import_module(f'.{name}_command', __name__)
    return command.main(rest)
