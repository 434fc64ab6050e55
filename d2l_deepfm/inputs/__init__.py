"""Reading users' files: input checks, the text table, the byte scanner, the Criteo and other
layouts, gzip and standard input. Nothing here knows about models or training."""
