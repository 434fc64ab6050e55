"""Reading users' files. Nothing here knows about models or training.

  reader      the one reading interface: a path and a layout (or a format's name) -> Rows
              (labels, tokens or the byte scanner's keys, skipped, the resolved layout); it
              chooses the fast path (`fast_path`) once, for every command
  layout      how a file's columns become the chapter's fields, and the token rules
  d2l_layout  the chapter's layout (label + 34 tab-separated fields): `read_fast` (the byte
              scanner, else `read_ctr`, the reference), the label check
  criteo      Kaggle Criteo rows (integers binned)
  bytescan    the byte scanner: tokens of up to 8 bytes as uint64 keys
  text        a file's bytes (plain, gzip'd, standard input), lines and their checks
  checks      the input checks every reader applies (missing, empty, binary, header lines)
  stream      a large file block by block, for the store
"""
