"""python -m d2l_deepfm.train: train FM and/or DeepFM as in the chapter and compare them.

The command's code is in cli/train_command.py; `d2l-deepfm train` runs the same command."""
import sys

from .cli.train_command import main

if __name__ == '__main__':
    sys.exit(main())
