"""Reading users' files: input checks, the text table, the byte scanner, the Criteo layout, the
default dataset (download or synthetic). Nothing here knows about models or training."""
