"""graphinv: which cloud resources belong to which Gardener project, shoot and machine, and which to nobody."""

__version__ = "0.1.0"
