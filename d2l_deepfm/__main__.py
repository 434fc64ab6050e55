"""python -m d2l_deepfm <command> [options]: the same as `d2l-deepfm <command>` (cli/)."""
import sys

from .cli import main

sys.exit(main())
