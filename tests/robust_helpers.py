"""Helpers of the robustness corpus (tests/test_robustness*.py): tiny data, commands run in a
forked child (MXNet is loaded once, so each run takes a fraction of a second) with the
crash hook of files.crash_point, and the two outcomes a damaged folder may have."""
import json
import os
import sys
import traceback

from d2l_deepfm import files

# A tiny run: FM only, one epoch.
ARGS = ['--model', 'fm', '--epochs', '1', '--batch-size', '256', '--num-factors', '4',
        '--no-progress']


def forked(fn, err_path, crash_at=None, signal_name='KILL'):
    """Run fn() (returns an exit status) in a forked child; with crash_at=N the child gets
    signal_name at its N-th write step. Returns (killed by a signal, exit status, stderr)."""
    pid = os.fork()
    if pid == 0:                                    # the child: never returns
        code = 99
        try:
            if crash_at:
                os.environ[files.CRASH_AT] = str(crash_at)
                os.environ[files.CRASH_SIGNAL] = signal_name
            files._steps[0] = 0
            sys.stdout = open(os.devnull, 'w')
            sys.stderr = open(err_path, 'w', buffering=1)
            os.dup2(sys.stderr.fileno(), 2)
            code = fn()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:                       # noqa: BLE001 (reported to the parent)
            traceback.print_exc(file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    err = open(err_path).read() if os.path.exists(err_path) else ''
    if os.WIFSIGNALED(status):
        return True, -os.WTERMSIG(status), err
    return False, os.WEXITSTATUS(status), err


def one_error_line(err):
    """Exactly one non-empty stderr line, starting with `error:`, and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith('error:') and 'Traceback' not in err


def snapshot(folder):
    """The published files of a folder (not hidden files, not the checkpoints): name -> bytes."""
    return {name: open(os.path.join(folder, name), 'rb').read() for name in os.listdir(folder)
            if not name.startswith('.') and os.path.isfile(os.path.join(folder, name))}


def leftovers(folder):
    """Staging folders and partial files left in a folder."""
    return [n for n in os.listdir(folder) if n.startswith('.staging-') or n.endswith('.part')
            or '.tmp' in n]


def load(folder, name):
    return json.loads(open(os.path.join(folder, name)).read())


def reseal(folder, name):
    """Update the manifest's entry of `name` to the file as it is now (as if the file had been
    written that way: the readers' own checks must then refuse it)."""
    from d2l_deepfm import folders
    doc = load(folder, folders.MANIFEST)
    size, sha1 = folders.digest(os.path.join(folder, name))
    doc['files'][name] = {'bytes': size, 'sha1': sha1}
    files.write_json(os.path.join(folder, folders.MANIFEST), doc)
