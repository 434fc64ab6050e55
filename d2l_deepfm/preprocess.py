"""python -m d2l_deepfm.preprocess: a click log larger than memory -> a memory-mapped store.

The command's code is in cli/preprocess_command.py; `d2l-deepfm preprocess` runs the same command."""
import sys

from .cli.preprocess_command import main

if __name__ == '__main__':
    sys.exit(main())
