# The cffi extension (sonodream._sonodream) is declared here; everything else
# is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["sonodream/_build.py:ffibuilder"])
