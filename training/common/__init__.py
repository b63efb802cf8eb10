"""Pieces every experiment shares: the run loop, run directories, tables,
optimizers and statistics."""
