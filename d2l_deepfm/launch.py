"""python -m d2l_deepfm.launch: start an MXNet parameter-server job (scheduler, servers, workers).

The command's code is in cli/launch_command.py; `d2l-deepfm launch` runs the same command."""
import sys

from .cli.launch_command import main

if __name__ == '__main__':
    sys.exit(main())
