"""Every option of a run, declared once: `OPTIONS`, one `Option` a flag (name, config field,
type, range, help, default; its default may be the protocol's). From these entries come:

  * the command line (flags_help.add_to(parser), and `config_parts(args)` back);
  * the config's dataclasses and their defaults (`fields_of(part)` in experiment/config.py);
  * the checks of a config however it was made (`check_values`: flags, Python, a config.json);
  * the protocols' defaults, applied in one place (`with_protocol`, and `model_defaults` for the
    models' settings), read from the data in protocol.py;
  * the help lines and the options table of the docs (flags_help.py: docs/options.md).

Adding a flag is one entry in OPTIONS (with `field='part.name'`, the config gets the field).
Imports nothing heavy (no MXNet).
"""
import dataclasses
import math
from typing import Any, List, Optional, Union

from .. import options as types
from ..errors import ConfigError
from ..inputs.layout import FORMATS
from ..kernels import SETTINGS as KERNELS
from .protocol import CHAPTER, DEFAULT_MODELS, MODEL_CHOICES, PROTOCOLS

KVSTORES = ('device', 'local', 'dist_sync', 'dist_async', 'dist_device_sync')
PARTS = ('data', 'model', 'train', 'output')


@dataclasses.dataclass(frozen=True)
class Option:
    flag: str                          # '--batch-size'
    field: Optional[str]               # 'train.batch_size'; None: the command line's own
    help: str
    kind: str = 'str'                  # str int float bool ints seeds names devices penalty
    default: Any = None                # None: unset (the protocol's, the chapter's, or off)
    low: Any = None                    # the range of a number: low < value, or low <= value
    high: Any = None                   # ... value < high
    low_in: bool = True                # whether low itself is allowed
    choices: Optional[tuple] = None
    protocol: Optional[str] = None     # 'run': PROTOCOLS[p][name]; 'model': each model's (CHAPTER ...)
    metavar: Optional[str] = None
    invert: bool = False               # a --no-X switch: the field is X, True unless given

    @property
    def part(self):
        return self.field.split('.')[0]

    @property
    def name(self):
        return self.field.split('.')[1]

    @property
    def dest(self):
        return self.flag[2:].replace('-', '_')


O = Option
OPTIONS = (
    O('--config', None, "repeat the run recorded in FILE (a run's config.json); only --out, --results, "
      '--no-progress and --debug may be given with it', metavar='FILE'),
    O('--protocol', 'train.protocol', 'default: a seeded validation hold-out picks the epoch, with '
      "penalties scaled by 1/n, FM, DeepFM and LR (docs/defaults.md); chapter: the chapter's "
      'experiment (the whole training file, the last epoch reported, no penalty, FM and DeepFM). '
      "Each option's help says its value under each; flags given override",
      default='default', choices=tuple(PROTOCOLS)),
    O('--model', 'model.model', 'both: FM and DeepFM; lr: the logistic-regression baseline; all: the '
      'three', choices=MODEL_CHOICES, protocol='run'),
    O('--data-dir', 'data.data_dir', 'folder with train.csv and test.csv in the chapter layout '
      '(default: data/ctr, downloaded if missing, else synthetic data)'),
    O('--data-root', 'data.data_root', 'where the default data is cached', default='data'),
    O('--no-download', 'data.download', 'do not try to download ctr.zip', kind='bool', invert=True),
    O('--format', 'data.format', "d2l: the chapter's layout; criteo: Kaggle Criteo rows "
      '(tab-separated, or CSV with a header); csv, tsv: a table with a header line; avazu: '
      "Avazu's CSV (id dropped, hour -> hour of day and day of week). gzip'd files are read as "
      'they are', default='d2l', choices=FORMATS),
    O('--label', 'data.label', 'the label column (default: label, click or y, any case)', metavar='COL'),
    O('--drop', 'data.drop', "columns to ignore, e.g. ids (comma-separated; shell patterns such as "
      "'id*' too)", kind='names', metavar='COLS'),
    O('--numeric', 'data.numeric', 'numeric columns, binned as the Criteo winners did (floats '
      "accepted; 'I*' too); every other column is categorical", kind='names', metavar='COLS'),
    O('--train', 'data.train', 'training file (instead of --data-dir)', metavar='FILE'),
    O('--test', 'data.test', 'test file (or --test-fraction)', metavar='FILE'),
    O('--test-fraction', 'data.test_fraction', 'without --test: hold out this fraction of --train '
      '(seeded) as the test set', kind='float', low=0, high=1, low_in=False, metavar='F'),
    O('--valid', 'data.valid', 'validation file: pick the epoch on it', metavar='FILE'),
    O('--valid-fraction', 'data.valid_fraction', 'hold out this fraction of the training rows '
      '(seeded) as the validation set', kind='float', low=0, high=1, low_in=False, metavar='F',
      protocol='run'),
    O('--patience', 'train.patience', 'stop when the validation logloss has not improved for N '
      'epochs (with a validation set)', kind='int', low=1, metavar='N', protocol='run'),
    O('--seeds', 'train.seeds', 'train each model once per seed; report mean ± std (overrides '
      '--seed)', kind='seeds', metavar='0,1,2'),
    O('--epochs', 'train.epochs', 'at most this many epochs', kind='int', low=1, protocol='run'),
    O('--batch-size', 'train.batch_size', 'rows per batch', kind='int', low=1, protocol='run'),
    O('--lr', 'model.lr', 'learning rate (Adam)', kind='float', low=0, low_in=False, protocol='model'),
    O('--num-factors', 'model.num_factors', 'embedding size', kind='int', low=1, protocol='model'),
    O('--mlp-dims', 'model.mlp_dims', 'DeepFM hidden layers, e.g. 128,64', kind='ints',
      protocol='model'),
    O('--dropout', 'model.dropout', 'DeepFM dropout rate', kind='float', low=0, high=1,
      protocol='model'),
    O('--wd', 'model.wd', "L2 weight decay (Adam wd) for FM and DeepFM; 'auto': pick it and "
      '--wd-embedding on the validation set (experiment/tuning.py)', kind='penalty', low=0,
      low_in=False, protocol='model'),
    O('--wd-embedding', 'model.wd_embedding', 'L2 weight decay of the factor embedding v_i instead '
      'of --wd', kind='float', low=0, low_in=False, metavar='WD', protocol='model'),
    O('--min-threshold', 'data.min_threshold', 'values seen fewer times in training map to the '
      'field default', kind='int', low=1, default=4),
    O('--hash-buckets', 'data.hash_buckets', "the hashing trick (not in the chapter): each field's "
      'values hashed into N buckets instead of the vocabulary (--min-threshold does not apply)',
      kind='int', low=1, metavar='N'),
    O('--loss', 'model.loss', "'chapter' reproduces the text's double sigmoid (see README)",
      default='fixed', choices=('fixed', 'chapter')),
    O('--sparse-grad', 'model.sparse_grad', 'row-sparse embedding gradients with lazy Adam (auto: '
      'from 300,000 features, where they are faster; see docs/performance.md)', default='auto',
      choices=('auto', 'on', 'off')),
    O('--devices', 'train.devices', 'e.g. cpu:0,cpu:1 or gpu:0,gpu:1 (default: every GPU, else the '
      'CPU)', kind='devices'),
    O('--seed', 'train.seed', 'the seed of the run (splits, initialization, batches)', kind='int',
      low=0, default=0),
    O('--data-store', 'data.store', 'a store written by python -m d2l_deepfm.preprocess '
      '(memory-mapped, read in shuffled blocks; replaces --data-dir)'),
    O('--block-rows', 'data.block_rows', 'rows read at a time from --data-store', kind='int', low=1,
      default=1 << 20),
    O('--kvstore', 'train.kvstore', 'Gluon kvstore; dist_* run under python -m d2l_deepfm.launch, '
      'one shard per worker, outputs from rank 0', default='device', choices=KVSTORES),
    O('--kernels', 'train.kernels', "compiled CPU operators for the FM part, DeepFM's dropout and "
      'the sparse Adam (auto: on a CPU when they build, else MXNet\'s own with one line saying why; '
      'on: required; off: MXNet\'s own)', default='auto', choices=KERNELS),
    O('--out', 'output.out', 'the run folder (default: a new runs/<date>_<time>; runs/latest points '
      'at the newest finished run); a finished run is replaced only when named here'),
    O('--results', 'output.results', 'results table that gets the lines of each finished run '
      '(default: results.csv beside the run folder, e.g. runs/results.csv)', metavar='FILE'),
    O('--resume', 'output.resume', 'continue the run in --out from its last complete epoch',
      kind='bool'),
    O('--strict', 'data.strict', 'a malformed row is an error (default: skipped, counted and '
      'reported)', kind='bool'),
    O('--no-progress', 'output.progress', 'no progress bars or per-epoch lines', kind='bool',
      invert=True),
    O('--debug', None, 'show tracebacks', kind='bool'),
)
BY_FLAG = {o.flag: o for o in OPTIONS}
BY_FIELD = {o.field: o for o in OPTIONS if o.field}
PYTHON_TYPES = {'str': Optional[str], 'int': Optional[int], 'float': Optional[float], 'bool': bool,
                'ints': Optional[List[int]], 'seeds': Optional[List[int]],
                'names': Optional[List[str]], 'devices': Optional[List[str]],
                'penalty': Optional[Union[float, str]]}


# --- the config's fields ------------------------------------------------------------------------

def default_of(o):
    """The dataclass default: a --no-X switch's field is True; a protocol's setting is None
    until `with_protocol` fills it."""
    return True if o.invert else (False if o.kind == 'bool' else o.default)


def fields_of(part):
    """(name, type, field) of a config part's options, for dataclasses.make_dataclass."""
    return [(o.name, PYTHON_TYPES[o.kind], dataclasses.field(default=default_of(o)))
            for o in OPTIONS if o.field and o.part == part]


# --- the protocols' defaults: applied here, and only here ---------------------------------------

def with_protocol(data, model, train):
    """(data, model, train) with the settings left unset (None) filled from their protocol
    (PROTOCOLS): a validation fraction only without a validation file or a store, a patience
    only with a validation set. An unknown protocol is left for `check_values` to refuse."""
    preset = PROTOCOLS.get(train.protocol)
    if preset is None:
        return data, model, train
    parts = {'data': data, 'model': model, 'train': train}
    for o in OPTIONS:
        if o.protocol != 'run' or getattr(parts[o.part], o.name) is not None:
            continue
        if o.name == 'valid_fraction' and (data.valid or data.store):
            continue
        if o.name == 'patience' and not (parts['data'].valid or parts['data'].valid_fraction
                                         or data.store):
            continue
        parts[o.part] = dataclasses.replace(parts[o.part], **{o.name: preset[o.name]})
    return parts['data'], parts['model'], parts['train']


def model_defaults(protocol, name):
    """Model `name`'s settings under `protocol`, before the flags: the chapter's (CHAPTER), with
    the default protocol's (DEFAULT_MODELS: its 'wd' and 'wd_embedding' are multiples of 1/n)."""
    settings = dict(CHAPTER[name], **(DEFAULT_MODELS[name] if protocol == 'default' else {}))
    return {k: list(v) if isinstance(v, list) else v for k, v in settings.items()}   # copies


# --- the checks ---------------------------------------------------------------------------------

def within(o, value):
    return (o.low is None or (value >= o.low if o.low_in else value > o.low)) and \
        (o.high is None or value < o.high)


def check_value(o, value):
    """One setting's value (ConfigError naming the flag); None is unset."""
    if value is None or (o.kind == 'penalty' and value == 'auto'):
        return
    if o.choices and value not in o.choices:
        raise ConfigError(f'{o.flag} {value!r}: expected one of {", ".join(o.choices)}')
    if o.kind in ('int', 'float', 'penalty'):
        kinds = (int,) if o.kind == 'int' else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
                or not within(o, value):
            raise ConfigError(f'{o.flag} {value!r}: out of range or not a number')
    elif o.kind in ('ints', 'seeds'):
        if not isinstance(value, list) or not value or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
            raise ConfigError(f'{o.flag} {value!r}: expected a list of whole numbers')
        if o.kind == 'ints' and min(value) < 1:
            raise ConfigError(f'{o.flag} {value}: expected positive sizes')
        if o.kind == 'seeds' and len(set(value)) != len(value):
            raise ConfigError(f'{o.flag} {value}: expected distinct seeds')
    elif o.kind == 'devices':
        problem = types.device_problem(value) if isinstance(value, list) and all(
            isinstance(v, str) for v in value) else 'expected a list of device names'
        if problem:
            raise ConfigError(f'{o.flag} {value!r}: {problem}')


def check_values(config):
    """Every declared setting of a RunConfig in range, of the right kind and among its choices,
    however the config was made: a config.json edited by hand is checked like the flags."""
    for o in OPTIONS:
        if o.field:
            check_value(o, getattr(getattr(config, o.part), o.name))


# --- the command line ---------------------------------------------------------------------------

def parse_of(o):
    """The argparse type of an option: its one `error:` line for a value out of range."""
    if o.kind in ('int', 'float'):
        return types.number(int if o.kind == 'int' else float, o.low, o.high, o.low_in)
    return {'ints': types.int_list, 'seeds': types.seed_list, 'names': types.name_list,
            'devices': types.device_list, 'penalty': types.penalty}.get(o.kind)


def config_parts(args):
    """{part: {field: value}} of parsed flags, for the config's dataclasses."""
    parts = {part: {} for part in PARTS}
    for o in OPTIONS:
        if o.field:
            value = getattr(args, o.dest)
            parts[o.part][o.name] = not value if o.invert else value
    return parts
