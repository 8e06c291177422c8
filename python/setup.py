# The cffi extension (sonodream._sonodream) is declared here; everything else
# is in pyproject.toml. build_ext always recompiles: the extension depends on
# the library's headers, which setuptools does not track.
from setuptools import setup

setup(cffi_modules=["sonodream/_build.py:ffibuilder"], options={"build_ext": {"force": True}})
