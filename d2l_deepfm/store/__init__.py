"""Data larger than memory: a click log preprocessed block by block (build.py, with its
vocabulary or the hashing trick) into a memory-mapped store (memmap.py), read back in shuffled
blocks for training."""
