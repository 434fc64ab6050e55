"""Shared test helpers: what "one error line" means, running a command's main() or module.

One error line, as the package promises for every user mistake (errors.run_command, the
commands' argument parsers): exit status 2, and stderr holds exactly one non-empty line, which
starts with `error: ` (no traceback, no usage block, no second line of any kind).
"""
import os
import subprocess
import sys

import numpy as onp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_one_error_line(result_or_code, err=None, expected=None, status=2):
    """result_or_code: a subprocess.CompletedProcess (err then comes from it) or an exit code
    with `err` the captured stderr. `expected`: words the error line must contain. Returns the
    line."""
    if isinstance(result_or_code, subprocess.CompletedProcess):
        code, err = result_or_code.returncode, result_or_code.stderr
    else:
        code = result_or_code
    assert err is not None, 'give the captured stderr'
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status, f'exit status {code}, expected {status}; stderr:\n{err}'
    assert len(lines) == 1, f'{len(lines)} non-empty lines on stderr, expected one:\n{err}'
    assert lines[0].startswith('error: '), f'not an error line: {lines[0]!r}'
    if expected is not None:
        assert expected in lines[0], f'{expected!r} not in {lines[0]!r}'
    return lines[0]


def call_main(main, argv, capsys):
    """(exit code, stdout, stderr) of a command's main(argv) in this process, argparse's exits
    included (SystemExit's code)."""
    capsys.readouterr()
    try:
        code = main(list(map(str, argv)))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def run_module(module, *args, timeout=600, cwd=None):
    """`python -m module args...` as a real process with this checkout on PYTHONPATH."""
    return subprocess.run([sys.executable, '-m', module, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout,
                          env={**os.environ, 'PYTHONPATH': ROOT})


AVAZU = ('id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,'
         'app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,'
         'C17,C18,C19,C20,C21').split(',')
def avazu_lines(n, seed=0):
    """Avazu's 24 columns; clicks planted on site_id and device_model (and their pair)."""
    rng = onp.random.default_rng(seed)
    lines = [','.join(AVAZU)]
    for i in range(n):
        site, model = int(rng.integers(0, 6)), int(rng.integers(0, 5))
        p = 0.08 + 0.5 * (site == 1) + 0.3 * (model == 2) * (site in (3, 4))
        row = [str(10 ** 19 + i), str(int(rng.random() < p)), '141021%02d' % (i % 24), '1005',
               str(i % 2), '%08x' % site, 'dom%d' % site, 'cat', 'app', 'appdom', 'appcat', 'dev',
               '%08x' % int(rng.integers(0, 10 ** 6)), 'm%d' % model, '1', '0', str(15700 + model),
               '320', '50', '1722', '0', '35', '-1', '79']
        lines.append(','.join(row))
    return lines
