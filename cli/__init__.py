"""The `mimic` command-line application."""
