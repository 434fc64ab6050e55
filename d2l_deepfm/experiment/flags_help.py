"""The words of the train command's options (experiment/flags.py): each option's help line, with
its default under each protocol read from protocol.py, and the Markdown table of docs/options.md
(`python scripts/options_table.py` writes it); `add_to` puts the options on a parser.
Imports nothing heavy."""
from .flags import BY_FLAG, OPTIONS, model_defaults, parse_of
from .protocol import CHAPTER, PROTOCOLS, RULES

NAMES = {'fm': 'FM', 'deepfm': 'DeepFM'}


def help_of(o):
    """The help text: the option's, and its default (each protocol's where it has one)."""
    default = default_text(o)
    extra = f' ({default})' if default else ''
    return (o.help + extra).replace('%', '%%')


def default_text(o, protocol=None):
    """'default protocol: 256; chapter: 2048', 'default: 4' or '' for the help; with `protocol`,
    the value under that protocol (for the table)."""
    if o.field == 'train.protocol':
        return protocol or f'default: {o.default}'
    if o.protocol:
        values = {p: protocol_value(o, p) for p in PROTOCOLS}
        if protocol:
            return values[protocol]
        return '; '.join(f'{p} protocol: {v}' if p == 'default' else f'{p}: {v}'
                         for p, v in values.items())
    if o.kind == 'bool' or o.default is None:
        return 'off' if protocol and o.kind == 'bool' else ''
    return str(o.default) if protocol else f'default: {o.default}'


def protocol_value(o, protocol):
    def show(v):
        return 'none' if v is None else ','.join(map(str, v)) if isinstance(v, list) else str(v)
    if o.protocol == 'run':
        value = PROTOCOLS[protocol][o.name]
        return RULES[o.name] if value is None and o.name in RULES else show(value)
    values = [(name, model_defaults(protocol, name).get(o.name)) for name in CHAPTER]
    per_row = protocol == 'default' and o.name.startswith('wd')     # multiples of 1/n
    shown = [f'{NAMES[n]} {show(v)}' + (' / n' if per_row else '') for n, v in values if v is not None]
    return ', '.join(shown) or 'none'


def add_to(parser, names=None):
    """The options on an argparse parser: every one (the train command's), or those `names`
    (another command's share of them: preprocess's --format, --label ...)."""
    for o in OPTIONS if names is None else [BY_FLAG[n] for n in names]:
        if o.kind == 'bool':
            parser.add_argument(o.flag, action='store_true', help=help_of(o))
        else:
            parser.add_argument(o.flag, type=parse_of(o), choices=o.choices, metavar=o.metavar,
                                default=None if o.protocol else o.default, help=help_of(o))
    return parser


# --- the docs -----------------------------------------------------------------------------------

def range_text(o):
    if o.choices:
        return ', '.join(o.choices)
    if o.kind not in ('int', 'float', 'penalty'):
        return {'ints': 'positive whole numbers, comma-separated', 'seeds': 'distinct seeds >= 0',
                'names': 'names or patterns, comma-separated', 'devices': 'cpu:N, gpu:N',
                'bool': 'a switch'}.get(o.kind, '')
    whole = 'whole, ' if o.kind == 'int' else ''
    low = '' if o.low is None else f"{'>=' if o.low_in else '>'} {o.low}"
    high = '' if o.high is None else f'< {o.high}'
    auto = " or 'auto'" if o.kind == 'penalty' else ''
    return whole + ' and '.join(filter(None, (low, high))) + auto


def options_table():
    """The Markdown table of the train command's options (docs/options.md)."""
    rows = ['| option | what it does | values | default protocol | chapter |',
            '|---|---|---|---|---|']
    for o in OPTIONS:
        name = o.flag if o.kind == 'bool' else f'{o.flag} {o.metavar or o.dest.upper()}'
        cells = [f'`{name}`', o.help, range_text(o), default_text(o, 'default'),
                 default_text(o, 'chapter')]
        rows.append('| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |')
    return '\n'.join(rows) + '\n'
