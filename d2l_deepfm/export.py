"""python -m d2l_deepfm.export: a trained model as a folder that scores rows without MXNet.

The command's code is in cli/export_command.py; `d2l-deepfm export` runs the same command."""
import sys

from .cli.export_command import main

if __name__ == '__main__':
    sys.exit(main())
