"""d2l_deepfm: the "Deep Factorization Machines" section of Dive into Deep Learning, runnable.

Importing the package switches MXNet to NumPy semantics (`npx.set_np()`), as the chapter does.
"""
from mxnet import npx

npx.set_np()

from .models import FM, DeepFM  # noqa: E402

__version__ = '0.1.0'
__all__ = ['FM', 'DeepFM']
