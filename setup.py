"""Ships the repo's top-level ``exported/`` folder inside the wheel as ``livestyle/exported``.

The nets livestyle trained live at the top of the repo (the layout the project keeps), but an
installed package can only find data inside itself; a package-dir mapping does that without a copy
in the source tree. Everything else is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["livestyle", "livestyle.*"]) + ["livestyle.exported"],
    package_dir={"livestyle.exported": "exported"},
    package_data={"livestyle.exported": ["*.onnx", "*.pt", "manifest.json"]},
)
