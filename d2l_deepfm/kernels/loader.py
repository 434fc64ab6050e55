"""Compile the fused operators (fm_ops.cc) on first use, cache them, load them into MXNet once.

The library is built with the system's C++ compiler (`$CXX`, else g++ or c++) against the
extension headers MXNet's wheel ships (mxnet/include/mxnet/lib_api.h, mxnet/src/lib_api.cc),
for the host's CPU (-O3 -march=native, OpenMP), into

    $D2L_DEEPFM_KERNEL_CACHE (default ~/.cache/d2l_deepfm/kernels)/<key>/libd2l_ops.so

where <key> hashes the sources, MXNet's version, the compiler, its flags and the CPU's
features: a change to any of them builds a new library; an unchanged one is reused. The file is
written under a temporary name and renamed into place, so two processes compiling at once never
load a half-written library. Anything that goes wrong (no compiler, a compile error, a load
error) is returned as one line saying why; the caller falls back to MXNet's own operators.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = 'libd2l_ops.so'
# for the host's CPU; no FMA contraction (overflow gives NaN as MXNet's own operators do, so a
# diverging run is still stopped); sqrt without errno, so that it vectorizes
FLAGS = ('-shared', '-fPIC', '-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno',
         '-fopenmp', '-std=c++17')
OPS = ('d2l_fm', 'd2l_dropout', 'd2l_rowwise_adam')
_loaded = {}                    # {'ok': bool, 'reason': str}, once per process


def compiler():
    """The C++ compiler to use: $CXX if set (even if missing: then there is none), else g++/c++."""
    if os.environ.get('CXX'):
        return shutil.which(os.environ['CXX'])
    return shutil.which('g++') or shutil.which('c++')


def cache_root():
    return os.environ.get('D2L_DEEPFM_KERNEL_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'd2l_deepfm', 'kernels')


def _cpu_features():
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            return next((line for line in f if line.startswith('flags')), '')
    except OSError:
        return ''


def build_key(sources, mxnet_dir, version, cxx):
    h = hashlib.sha256()
    for part in [version, cxx, *FLAGS, _cpu_features()]:
        h.update(part.encode() + b'\0')
    for path in [*sources, os.path.join(mxnet_dir, 'src', 'lib_api.cc')]:
        with open(path, 'rb') as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def build(cxx, sources, mxnet_dir, target):
    """Compile into `target` atomically (a temporary file renamed into place)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.so', dir=os.path.dirname(target))
    os.close(fd)
    try:
        cmd = [cxx, *FLAGS, '-I', os.path.join(mxnet_dir, 'include'), *sources,
               os.path.join(mxnet_dir, 'src', 'lib_api.cc'), '-o', tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if 'error' in ln] or \
                done.stderr.splitlines() or ['no message']
            raise RuntimeError(f'compile error: {lines[0].strip()[:200]}')
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def library_path():
    """The compiled library's path (built if missing); RuntimeError with one line why not."""
    import mxnet as mx
    cxx = compiler()
    if cxx is None:
        raise RuntimeError(f"no C++ compiler ({os.environ.get('CXX') or 'g++ or c++'} not found)")
    mxnet_dir = os.path.dirname(os.path.abspath(mx.__file__))
    if not os.path.exists(os.path.join(mxnet_dir, 'include', 'mxnet', 'lib_api.h')):
        raise RuntimeError("this MXNet has no extension headers (mxnet/include/mxnet/lib_api.h)")
    sources = sorted(glob.glob(os.path.join(HERE, '*.cc')))
    target = os.path.join(cache_root(), build_key(sources, mxnet_dir, mx.__version__, cxx), LIBRARY)
    if not os.path.exists(target):
        try:
            build(cxx, sources, mxnet_dir, target)
        except (OSError, subprocess.SubprocessError) as e:
            raise RuntimeError(f'cannot build the kernels ({type(e).__name__}: {e})') from None
    return target


def load():
    """(ok, reason): whether the fused operators are in MXNet; compiled and loaded at most once
    per process. reason says which library, or why not (one line)."""
    if not _loaded:
        try:
            import mxnet as mx
            path = library_path()
            if not all(hasattr(mx.nd, op) for op in OPS):
                mx.library.load(path, verbose=False)
            missing = [op for op in OPS if not hasattr(mx.nd, op)]
            if missing:
                raise RuntimeError(f"{path} lacks {', '.join(missing)}")
            _loaded.update(ok=True, reason=path)
        except Exception as e:            # any failure: MXNet's own operators instead
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            _loaded.update(ok=False, reason=reason[:300])
    return _loaded['ok'], _loaded['reason']
