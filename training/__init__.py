"""Training, data and evaluation jobs for keras-resolution."""
