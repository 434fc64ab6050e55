"""python -m d2l_deepfm.explain: which field pairs and fields drive a trained FM or DeepFM.

The command's code is in cli/explain_command.py; `d2l-deepfm explain` runs the same command."""
import sys

from .cli.explain_command import main

if __name__ == '__main__':
    sys.exit(main())
