"""Building and loading the compiled operators, and the fallback: without a compiler (or with a
compile error) a run says why in one line and trains on MXNet's own operators; `--kernels on`
then fails with one error line; the cache is keyed by the sources."""
import json
import os
import shutil

import pytest

from d2l_deepfm import kernels
from d2l_deepfm.kernels import loader

from helpers import assert_one_error_line, run_module


def train_args(small_ctr, out, *extra):
    return ['d2l_deepfm.train', '--protocol', 'chapter', '--data-dir', small_ctr, '--model', 'fm',
            '--epochs', '1', '--batch-size', '1024', '--out', out, '--no-progress', *extra]


def without_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
    monkeypatch.setenv('D2L_DEEPFM_KERNEL_CACHE', str(tmp_path / 'cache'))


def test_without_a_compiler_a_run_says_why_in_one_line_and_trains(small_ctr, tmp_path, monkeypatch):
    without_compiler(tmp_path, monkeypatch)
    module, *args = train_args(small_ctr, str(tmp_path / 'out'))
    done = run_module(module, *args)
    assert done.returncode == 0, done.stderr
    said = [line for line in (done.stdout + done.stderr).splitlines() if 'kernels' in line]
    assert said == [f"kernels: plain MXNet operators (no C++ compiler ({tmp_path / 'no-such-compiler'} "
                    'not found))'], said
    doc = json.load(open(tmp_path / 'out' / 'metrics.json'))
    assert doc['fm']['kernels'] == 'plain' and doc['fm']['final']['test_auc'] > 0.5
    assert not (tmp_path / 'cache').exists()


def test_kernels_on_without_a_compiler_is_one_error_line(small_ctr, tmp_path, monkeypatch):
    without_compiler(tmp_path, monkeypatch)
    module, *args = train_args(small_ctr, str(tmp_path / 'out'), '--kernels', 'on')
    assert_one_error_line(run_module(module, *args), expected='--kernels on')


def test_kernels_off_says_so_and_records_it(small_ctr, tmp_path):
    module, *args = train_args(small_ctr, str(tmp_path / 'out'), '--kernels', 'off')
    done = run_module(module, *args)
    assert done.returncode == 0, done.stderr
    assert 'kernels: plain MXNet operators (--kernels off)' in done.stdout + done.stderr
    assert json.load(open(tmp_path / 'out' / 'metrics.json'))['fm']['kernels'] == 'plain'


def test_the_default_run_uses_the_compiled_path_where_it_builds(small_ctr, tmp_path):
    ok, reason = kernels.load()
    if not ok:
        pytest.skip(reason)
    module, *args = train_args(small_ctr, str(tmp_path / 'out'))
    done = run_module(module, *args)
    assert done.returncode == 0, done.stderr
    assert f'kernels: compiled operators ({reason})' in done.stdout + done.stderr
    assert json.load(open(tmp_path / 'out' / 'metrics.json'))['fm']['kernels'] == 'compiled'


def test_a_compile_error_is_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    if loader.compiler() is None:
        pytest.skip('no C++ compiler')
    sources = tmp_path / 'src'
    sources.mkdir()
    (sources / 'broken.cc').write_text('this is not C++;\n')
    monkeypatch.setattr(loader, 'HERE', str(sources))
    monkeypatch.setattr(loader, 'FLAGS', loader.FLAGS + ('-fsyntax-only',))   # no need to link
    monkeypatch.setenv('D2L_DEEPFM_KERNEL_CACHE', str(tmp_path / 'cache'))
    with pytest.raises(RuntimeError) as e:
        loader.library_path()
    assert str(e.value).startswith('compile error: ') and '\n' not in str(e.value)
    assert [f for _, _, files in os.walk(tmp_path / 'cache') for f in files] == []


def test_the_cache_key_follows_the_sources_and_mxnet(tmp_path):
    import mxnet as mx
    mxnet_dir = os.path.dirname(mx.__file__)
    source = tmp_path / 'fm_ops.cc'
    shutil.copy(os.path.join(loader.HERE, 'fm_ops.cc'), source)
    key = loader.build_key([str(source)], mxnet_dir, mx.__version__, 'g++')
    assert key == loader.build_key([str(source)], mxnet_dir, mx.__version__, 'g++')
    assert key != loader.build_key([str(source)], mxnet_dir, '9.9.9', 'g++')
    assert key != loader.build_key([str(source)], mxnet_dir, mx.__version__, 'clang++')
    source.write_text(source.read_text() + '// changed\n')
    assert key != loader.build_key([str(source)], mxnet_dir, mx.__version__, 'g++')
