"""Data larger than memory and more than one process: the memory-mapped store and its
preprocessing, row-sparse gradients, the parameter-server cluster and its launcher."""
