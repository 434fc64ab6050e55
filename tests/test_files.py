"""files.py's signal handling: Ctrl-C and SIGTERM stop a command, and are not lost when they
arrive inside a finalizer (where Python prints an exception and drops it)."""
import os
import signal
import time

import pytest

from d2l_deepfm import files


def test_a_signal_stops_the_command_where_it_is():
    for signum in (signal.SIGINT, signal.SIGTERM):
        with files.sigterm_as_interrupt():
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signum)
                time.sleep(5)


def test_a_signal_inside_a_finalizer_is_kept_for_the_next_safe_point(capsys):
    class Freed:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)      # delivered while the finalizer runs
            for _ in range(100_000):
                pass

    with files.sigterm_as_interrupt():
        Freed()                                      # freed at once: __del__ runs here
        assert 'KeyboardInterrupt' not in capsys.readouterr().err   # nothing printed and lost
        with pytest.raises(KeyboardInterrupt):
            files.stop_if_asked()
    with files.sigterm_as_interrupt():
        files.stop_if_asked()                        # a new command starts with no stop asked
