"""Datasets the package brings: d2l's ctr data (download.py, with the synthetic stand-in when it
cannot be fetched), and generated click logs (synthetic.py, criteo_synthetic.py)."""
