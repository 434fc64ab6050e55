"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

The command's code is in cli/predict_command.py; `d2l-deepfm predict` runs the same command."""
import sys

from .cli.predict_command import main

if __name__ == '__main__':
    sys.exit(main())
