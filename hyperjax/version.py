"""The one place the version lives (setup.cfg reads it: version = attr: hyperjax.version.__version__)."""

__version__ = "0.2.0.dev0"
