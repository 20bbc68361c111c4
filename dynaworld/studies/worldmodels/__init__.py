"""The World Models paper reproduction: its tables, figures, probes and controller studies."""
