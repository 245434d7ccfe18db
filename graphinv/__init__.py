"""graphinv: which cloud resources belong to which Gardener project, shoot and machine, and which to nobody."""

from graphinv._driver_import import skip_array_libraries_in_driver

__version__ = "0.1.0"

skip_array_libraries_in_driver()
