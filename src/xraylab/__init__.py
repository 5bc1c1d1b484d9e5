from xraylab._version import __version__
