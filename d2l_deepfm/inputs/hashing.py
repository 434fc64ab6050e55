"""The hashing trick (--hash-buckets N): a value's index is a stable hash of its bytes mod N.

Plain Python and numpy only, and nothing from the package: an exported model folder carries a
copy of this file (beside layout.py), so that its scorer hashes new values exactly as training
did. The package reads it through inputs.bytescan (keys) and data.py (strings).
"""
import hashlib

import numpy as onp

WIDTH = 8                                   # bytes in one key
_M1, _M2 = onp.uint64(0xBF58476D1CE4E5B9), onp.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = onp.uint64(30), onp.uint64(27), onp.uint64(31), onp.uint64(32)
_GOLDEN = onp.uint64(0x9E3779B97F4A7C15)


def mix64(keys):
    """splitmix64's finalizer on uint64 keys (a bijection that spreads every bit of the key
    over the result): the same numbers on every platform, process and Python version."""
    keys = onp.asarray(keys, dtype=onp.uint64)
    z = keys.reshape(-1) + _GOLDEN                    # (1-d: array arithmetic wraps silently)
    t = onp.empty_like(z)
    for shift, mult in ((_S30, _M1), (_S27, _M2)):     # in place: no temporaries per step
        onp.right_shift(z, shift, out=t)
        z ^= t
        z *= mult
    onp.right_shift(z, _S31, out=t)
    z ^= t
    return z.reshape(keys.shape)


def hash_keys(keys, buckets):
    """Bucket (0..buckets-1, int64) of each value given as its key (its UTF-8 bytes, at most
    8, as one little-endian uint64, zero padded: what `bytescan.scan` reads): the high 32 bits
    of mix64(key) scaled to the buckets, (high * buckets) >> 32 (multiply-shift: no division)."""
    if not 1 <= buckets < 1 << 32:
        raise ValueError(f'hash buckets must be 1 .. 2**32 - 1, not {buckets}')
    z = mix64(keys).reshape(-1)
    z >>= _S32
    z *= onp.uint64(buckets)
    z >>= _S32
    return z.view(onp.int64).reshape(onp.shape(keys))


def hash_values(values, buckets):
    """Bucket of each string value: the same rule as hash_keys for values of at most 8 bytes
    (their key); a longer value hashes its bytes with BLAKE2b (8-byte digest, little-endian)
    before mix64. One rule for the byte path, the string path, predict and score.py."""
    raw = [v.encode() for v in values]
    keys = onp.array([int.from_bytes(b.ljust(WIDTH, b'\0'), 'little') if len(b) <= WIDTH else
                      int.from_bytes(hashlib.blake2b(b, digest_size=WIDTH).digest(), 'little')
                      for b in raw], dtype=onp.uint64)
    return hash_keys(keys, buckets)
