"""python -m d2l_deepfm.compare: FM vs DeepFM vs logistic regression over several seeds.

The command's code is in cli/compare_command.py; `d2l-deepfm compare` runs the same command."""
import sys

from .cli.compare_command import main

if __name__ == '__main__':
    sys.exit(main())
