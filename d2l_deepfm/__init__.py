"""d2l_deepfm: the "Deep Factorization Machines" section of Dive into Deep Learning, runnable.

The chapter's names are here: `FM`, `DeepFM` (models.py), `CTRDataset` (data.py), `train_ch13`,
`try_all_gpus` (training.py). They load MXNet (with NumPy semantics, as the chapter does) when
first used, so that `import d2l_deepfm` and the commands' --help stay light.
"""
import importlib

__version__ = '0.1.0'
_NAMES = {'FM': 'models', 'DeepFM': 'models', 'CTRDataset': 'data', 'train_ch13': 'training',
          'try_all_gpus': 'training'}
__all__ = list(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f'.{_NAMES[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
