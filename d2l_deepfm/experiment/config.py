"""One run's configuration: everything a run needs, in one record.

Each option is declared once, in flags.py: the parts' fields and defaults come from there. The
command line builds a `RunConfig` from its flags (cli/train_command.py), the library takes it
(never argparse's Namespace), and the run writes it whole to `OUT/config.json`;
`python -m d2l_deepfm.train --config OUT/config.json [--out DIR]` reads it back and repeats the
run. Values out of range and options that do not go together are refused in one place,
`RunConfig.check()`, when the config is built, however it was built.

Two protocols (`--protocol`, `TrainConfig.protocol`), 'default' and 'chapter': what each sets is
in protocol.py. A setting left unset (None) takes its protocol's value when the config is made
(`RunConfig(train=TrainConfig(protocol='chapter'))` is the chapter's run, as with the flags);
settings given win.

This module imports nothing heavy (no MXNet): `--help` and the checks stay fast.
"""
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional, Union, get_args, get_origin

from ..errors import ConfigError
from .. import run_folder
from ..files import read_json
from ..inputs import layout
from . import flags
from .protocol import MODEL_SETS, MODELS, batch_size_for  # noqa: F401  (MODELS: for callers)

VERSION = 1

MAX_BUCKETS = (2 ** 31 - 1) // 64     # --hash-buckets: int32 indices for up to 64 fields


def _part(name, doc, **namespace):
    """A config part: its fields and defaults are the options declared in flags.py."""
    cls = dataclasses.make_dataclass(name, flags.fields_of(name[:-6].lower()),
                                     namespace={'__doc__': doc, **namespace})
    cls.__module__ = __name__
    return cls


DataConfig = _part('DataConfig', 'Where the rows come from and how they are read and mapped.')
ModelConfig = _part('ModelConfig', 'Which models, their sizes and penalties (None: the '
                    "protocol's setting).",
                    names=property(lambda self: MODEL_SETS.get(self.model, (self.model,))))
TrainConfig = _part('TrainConfig', 'The loop: epochs, batches, early stopping, seeds, devices.')
OutputConfig = _part('OutputConfig', 'Where the run writes, and how it talks.')


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    command: Optional[List[str]] = None     # the command line that made it (for the record)

    def __post_init__(self):
        # settings left unset take the protocol's (the one place: flags.with_protocol)
        self.data, self.model, self.train = flags.with_protocol(self.data, self.model, self.train)

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
    def input_files(self):
        """The files the run reads (no output may be one; a store: folders.exclusive refuses it)."""
        d = self.data
        folder = [os.path.join(d.data_dir, n) for n in ('train.csv', 'test.csv')] if d.data_dir else []
        return tuple(p for p in (d.train, d.test, d.valid, *folder) if p)

    @property
    def results_path(self):
        return self.output.results or run_folder.results_table(self.output.out)

    def batch_size(self, num_rows):
        """The batch size for `num_rows` training rows: --batch-size, else the protocol's rule."""
        return self.train.batch_size or batch_size_for(self.train.protocol, num_rows)

    def model_settings(self, name, num_rows=None, **override):
        """The settings of model `name`: the chapter's (with the default protocol's step and
        penalties, these scaled by `num_rows`), changed by the options given (and by `override`,
        e.g. the penalties --wd auto picked). Penalties are recorded only when set."""
        settings = flags.model_defaults(self.train.protocol, name)
        per_row = {k: settings.pop(k) for k in ('wd', 'wd_embedding') if k in settings}
        m = self.model
        if (per_row and num_rows and m.wd is None and m.wd_embedding is None
                and not self.distributed and not override):   # servers get no per-parameter wd
            override = {k: v / num_rows for k, v in per_row.items()}
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
        flags.check_values(self)       # each value: its range, kind and choices
        if os.path.isdir(self.results_path):     # found before training, not after it
            raise ConfigError(f'--results {self.results_path}: a directory; give a file')
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
        for name, part in parts.items():
            for f in dataclasses.fields(part):
                if not _fits(getattr(part, f.name), f.type):
                    raise ConfigError(f'{source}: {name}.{f.name} is {getattr(part, f.name)!r}, '
                                      f'expected {_type_name(f.type)}; fix the file or train '
                                      'with flags')
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


def _fits(value, kind):
    """Whether a recorded value has the field's type (bool is not a number here)."""
    origin = get_origin(kind)
    if origin is Union:
        return any(_fits(value, k) for k in get_args(kind))
    if origin in (list, List):
        return isinstance(value, list) and all(_fits(v, get_args(kind)[0]) for v in value)
    if kind in (int, float) and isinstance(value, bool):
        return False
    return value is None if kind is type(None) else isinstance(value, (int, float) if kind is float else kind)


def _type_name(kind):
    args = [a for a in get_args(kind) if a is not type(None)] if get_origin(kind) is Union else []
    if args:
        nullable = len(args) < len(get_args(kind))
        return ' or '.join(_type_name(a) for a in args) + (' or null' if nullable else '')
    if get_origin(kind) in (list, List):
        return f'a list of {_type_name(get_args(kind)[0])}'
    return {int: 'an integer', float: 'a number', str: 'a string', bool: 'true or false'}.get(kind, str(kind))
