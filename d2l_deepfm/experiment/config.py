"""One run's configuration: everything a run needs, in one record.

The command line builds a `RunConfig` from its flags (`train.py`), the library takes it (never
argparse's Namespace), and the run writes it whole to `OUT/config.json`;
`python -m d2l_deepfm.train --config OUT/config.json [--out DIR]` reads it back and repeats the
run. Options that do not go together are refused in one place, `RunConfig.check()`, when the
config is built. The chapter's model settings (`CHAPTER`) are the defaults of `model_settings`.

Two protocols (`--protocol`, `TrainConfig.protocol`), 'default' and 'chapter': what each sets is
in protocol.py; flags given on the command line win.

This module imports nothing heavy (no MXNet): `--help` and the checks stay fast.
"""
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional, Union

from ..errors import ConfigError
from ..files import read_json
from ..inputs import layout
from .bounds import check_values
from .protocol import (CHAPTER, DEFAULT_MODELS, MODEL_CHOICES, MODEL_SETS, MODELS,  # noqa: F401
                       PROTOCOLS)

FORMATS = layout.FORMATS
KVSTORES = ('device', 'local', 'dist_sync', 'dist_async', 'dist_device_sync')
LOSSES = ('fixed', 'chapter')
SPARSE = ('auto', 'on', 'off')
VERSION = 1

MAX_BUCKETS = (2 ** 31 - 1) // 64     # --hash-buckets: int32 indices for up to 64 fields


@dataclass
class DataConfig:
    """Where the rows come from and how they are read and mapped."""
    data_dir: Optional[str] = None          # folder with train.csv and test.csv (chapter layout)
    data_root: str = 'data'                 # where the default data is cached or generated
    download: bool = True                   # try d2l's ctr.zip before the synthetic stand-in
    format: str = 'd2l'                     # d2l, criteo, csv, tsv, avazu (inputs/layout.py)
    label: Optional[str] = None             # files with a header: the label column
    drop: Optional[List[str]] = None        # ... columns ignored (names or shell patterns)
    numeric: Optional[List[str]] = None     # ... numeric columns, binned
    train: Optional[str] = None
    test: Optional[str] = None
    test_fraction: Optional[float] = None   # without test: this fraction of train held out
    valid: Optional[str] = None
    valid_fraction: Optional[float] = None
    min_threshold: int = 4
    hash_buckets: Optional[int] = None      # the hashing trick instead of the vocabulary
    strict: bool = False                    # a malformed row is an error instead of skipped
    store: Optional[str] = None             # a preprocessed store (store.memmap)
    block_rows: int = 1 << 20               # rows read at a time from the store


@dataclass
class ModelConfig:
    """Which models, their sizes and penalties (None: the chapter's setting)."""
    model: str = 'all'                      # fm, deepfm, lr, both (fm + deepfm), all (+ lr)
    num_factors: Optional[int] = None
    lr: Optional[float] = None
    mlp_dims: Optional[List[int]] = None
    dropout: Optional[float] = None
    wd: Optional[Union[float, str]] = None  # a number, or 'auto' (experiment.tuning)
    wd_embedding: Optional[float] = None
    loss: str = 'fixed'                     # 'chapter': the text's double sigmoid
    sparse_grad: str = 'auto'

    @property
    def names(self):
        return MODEL_SETS.get(self.model, (self.model,))


@dataclass
class TrainConfig:
    """The loop: epochs, batches, early stopping, seeds, devices."""
    epochs: int = 50                        # PROTOCOLS['default']
    batch_size: Optional[int] = None        # None: the protocol's (protocol.batch_size_for)
    patience: Optional[int] = 3
    seed: int = 0
    seeds: Optional[List[int]] = None       # one run per seed, mean ± std (overrides seed)
    devices: Optional[List[str]] = None     # e.g. ['cpu:0', 'cpu:1']; None: try_all_gpus()
    kvstore: str = 'device'
    protocol: str = 'default'               # 'default' or 'chapter' (PROTOCOLS)


@dataclass
class OutputConfig:
    """Where the run writes, and how it talks."""
    out: str = 'runs/latest'
    resume: bool = False
    progress: bool = True
    results: Optional[str] = None           # results CSV (default: results.csv beside out)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    command: Optional[List[str]] = None     # the command line that made it (for the record)

    def __post_init__(self):
        # the default protocol holds out part of the training file when no validation set is given
        d = self.data
        if (self.train.protocol == 'default' and d.valid_fraction is None and not d.valid
                and not d.store):
            self.data = dataclasses.replace(d, valid_fraction=PROTOCOLS['default']['valid_fraction'])

    # --- derived ---------------------------------------------------------------------------
    @property
    def seeds(self):
        return self.train.seeds or [self.train.seed]

    @property
    def distributed(self):
        return self.train.kvstore.startswith('dist')

    @property
    def has_validation(self):
        """A validation set is asked for (a store may bring its own: known only once read)."""
        return bool(self.data.valid or self.data.valid_fraction)

    @property
    def results_path(self):
        return self.output.results or os.path.join(
            os.path.dirname(os.path.abspath(self.output.out)), 'results.csv')

    def model_settings(self, name, num_rows=None, **override):
        """The settings of model `name`: the chapter's (with the default protocol's step and
        penalties, these scaled by `num_rows`), changed by the options given (and by `override`,
        e.g. the penalties --wd auto picked). Penalties are recorded only when set."""
        settings = dict(CHAPTER[name])
        m = self.model
        protocol = DEFAULT_MODELS[name] if self.train.protocol == 'default' else {}
        if protocol:
            settings['lr'] = protocol['lr']
            if 'mlp_dims' in protocol:
                settings['mlp_dims'] = list(protocol['mlp_dims'])     # a copy: the protocol stays
        if (protocol and num_rows and m.wd is None and m.wd_embedding is None
                and not self.distributed and not override):   # servers get no per-parameter wd
            override = {'wd': protocol['wd'] / num_rows,
                        'wd_embedding': protocol['wd_embedding'] / num_rows}
        for key in ('num_factors', 'lr', 'mlp_dims', 'dropout'):
            value = getattr(m, key)
            if value is not None and key in settings:
                settings[key] = list(value) if key == 'mlp_dims' else value
        wd = override.get('wd', m.wd)
        wd_embedding = override.get('wd_embedding', m.wd_embedding)
        if wd is not None:
            settings['wd'] = wd
        if wd_embedding is not None:
            settings.update(wd=settings.get('wd', 0.0), wd_embedding=wd_embedding)
        return settings

    # --- checks -----------------------------------------------------------------------------
    def check(self):
        """Refuse options that are out of range or do not go together (ConfigError); return self."""
        d, m, t = self.data, self.model, self.train
        check_values(self)
        if os.path.isdir(self.results_path):     # found before training, not after it
            raise ConfigError(f'--results {self.results_path}: a directory; give a file')
        choices = [('--protocol', t.protocol, tuple(PROTOCOLS)), ('--format', d.format, FORMATS),
                   ('--model', m.model, MODEL_CHOICES),
                   ('--loss', m.loss, LOSSES), ('--sparse-grad', m.sparse_grad, SPARSE),
                   ('--kvstore', t.kvstore, KVSTORES)]
        for flag, value, allowed in choices:
            if value not in allowed:
                raise ConfigError(f'{flag} {value!r}: expected one of {", ".join(allowed)}')
        if d.valid and d.valid_fraction:
            raise ConfigError('give --valid FILE or --valid-fraction F, not both')
        if d.store and (d.valid or d.valid_fraction):
            raise ConfigError('--valid and --valid-fraction do not apply to --data-store: '
                              'preprocess with --valid FILE instead')
        if d.store and d.hash_buckets:
            raise ConfigError('--hash-buckets applies to text files: a store is hashed when it is '
                              'built (python -m d2l_deepfm.preprocess --hash-buckets N)')
        if d.hash_buckets and d.hash_buckets > MAX_BUCKETS:
            raise ConfigError(f'--hash-buckets {d.hash_buckets}: at most {MAX_BUCKETS:,} '
                              '(every field times the buckets must fit in int32 indices)')
        try:
            self.layout_request()
        except layout.LayoutError as e:
            raise ConfigError(str(e)) from None
        if d.store:
            given = [f for f, v in (('--label', d.label), ('--drop', d.drop),
                                    ('--numeric', d.numeric), ('--test-fraction', d.test_fraction)) if v]
            if given:
                raise ConfigError(f'{", ".join(given)} do not apply to --data-store (the store records '
                                  'its layout and splits): give them to python -m d2l_deepfm.preprocess')
        if d.test_fraction and (d.test or not d.train):
            raise ConfigError('--test-fraction holds out part of --train FILE as the test set: '
                              'not with --test FILE' if d.test else '--test-fraction needs --train FILE')
        if bool(d.train) != bool(d.test or d.test_fraction):
            raise ConfigError('--train FILE and --test FILE go together (or --train FILE with '
                              '--test-fraction F: part of it held out as the test set)')
        if d.format != 'd2l' and not d.train and not d.store:
            raise ConfigError(f'--format {d.format} needs --train FILE and --test FILE '
                              '(or --test-fraction F)')
        if t.patience and not (self.has_validation or d.store):
            raise ConfigError('--patience needs a validation set: --valid-fraction F or --valid FILE')
        if m.wd == 'auto' and not (self.has_validation or d.store) and m.names != ('lr',):
            raise ConfigError('--wd auto picks the penalties on a validation set: add --valid FILE '
                              'or --valid-fraction F')
        if self.distributed:
            if len(m.names) > 1:
                raise ConfigError(f'--kvstore {t.kvstore} trains one model per job: '
                                  'add --model fm or --model deepfm')
            if self.output.resume:
                raise ConfigError(f'--resume does not work with --kvstore {t.kvstore} (no '
                                  "checkpoints: Adam's state lives on the parameter servers)")
            if m.wd == 'auto' or m.wd_embedding is not None:
                raise ConfigError(f'--wd auto and --wd-embedding set penalties per parameter, '
                                  'which the parameter servers do not receive: not with '
                                  f'--kvstore {t.kvstore}')
        if t.seeds is not None and len(set(t.seeds)) != len(t.seeds):
            raise ConfigError(f'--seeds {t.seeds}: expected distinct seeds')
        return self

    def layout_request(self):
        """The layout the data options ask for (inputs/layout.py; LayoutError if they clash)."""
        d = self.data
        return layout.request(d.format, d.label, d.drop or (), d.numeric or ())

    # --- the record ---------------------------------------------------------------------------
    def to_dict(self):
        return {'version': VERSION, **dataclasses.asdict(self)}

    def digest(self):
        """A short digest of everything that decides the numbers (not where they are written)."""
        doc = self.to_dict()
        doc.pop('command', None)
        doc['output'] = {}
        return hashlib.sha1(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, doc, source='config'):
        try:
            if doc.get('version') != VERSION:
                raise ValueError(f"version {doc.get('version')!r}, expected {VERSION}")
            doc['train'].setdefault('protocol', 'chapter')     # recorded before the protocols
            parts = {name: kind(**doc[name]) for name, kind in
                     (('data', DataConfig), ('model', ModelConfig), ('train', TrainConfig),
                      ('output', OutputConfig))}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f'{source}: not a run config of this package ({type(e).__name__}: '
                              f'{e})') from None
        try:
            return cls(**parts, command=doc.get('command')).check()
        except ConfigError as e:
            raise ConfigError(f'{source}: {e}') from None

    @classmethod
    def load(cls, path):
        """The config a run wrote to OUT/config.json."""
        return cls.from_dict(read_json(path, what='run config', error=ConfigError,
                                       missing_ok=False), source=path)

    def replace(self, **parts):
        """A copy with some parts replaced: replace(output=..., model=...)."""
        return dataclasses.replace(self, **parts)
