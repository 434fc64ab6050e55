"""MXNet's NumPy semantics (`npx.set_np()`), as the chapter switches them on.

Every module that builds or runs MXNet arrays imports this one first; the package itself does
not, so that commands answer --help and preprocess without loading MXNet.
"""
from mxnet import npx

npx.set_np()
