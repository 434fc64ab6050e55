"""Using a trained run: loading its models and scoring rows."""
