"""python -m d2l_deepfm.runs: the table of finished runs (runs/results.csv), sorted and filtered.

The command's code is in cli/runs_command.py; `d2l-deepfm runs` runs the same command."""
import sys

from .cli.runs_command import main

if __name__ == '__main__':
    sys.exit(main())
