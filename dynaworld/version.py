"""dynaworld's version (its own module: importing it runs nothing else of the package's API)."""

__version__ = "0.2.0.dev0"
