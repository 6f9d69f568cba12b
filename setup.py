"""Install the addons into Odoo's Python: ``pip install .``

Each addon directory becomes the package ``odoo.addons.<addon>``, so Odoo
finds it without an addons_path entry (as for addons installed from PyPI).
"""

import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
ADDONS = sorted(
    name
    for name in os.listdir(HERE)
    if os.path.isfile(os.path.join(HERE, name, "__manifest__.py"))
)


def addon_packages(addon):
    """(package name, directory) of the addon and of every sub-package in it."""
    for root, dirs, files in os.walk(os.path.join(HERE, addon)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" in files:
            relative = os.path.relpath(root, HERE)
            yield "odoo.addons." + relative.replace(os.sep, "."), relative


def addon_data(addon):
    """Every file of the addon that no package carries, relative to its directory.

    Python files outside packages are data too: Odoo loads migration scripts
    (``migrations/<version>/*.py``) by path.
    """
    base = os.path.join(HERE, addon)
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        in_package = "__init__.py" in files
        for name in files:
            if name.endswith(".pyc") or (in_package and name.endswith(".py")):
                continue
            yield os.path.relpath(os.path.join(root, name), base)


packages, package_dir, package_data = [], {}, {}
for addon in ADDONS:
    for package, directory in addon_packages(addon):
        packages.append(package)
        package_dir[package] = directory
    package_data["odoo.addons." + addon] = list(addon_data(addon))

setup(
    name="odoo-queue-job-pg",
    version="18.0.2.0.0",
    description="PostgreSQL-native background job queue for Odoo 18 (drop-in for OCA queue_job)",
    long_description=open(os.path.join(HERE, "README.rst"), encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="LGPL-3",
    python_requires=">=3.10",
    # What the addons' manifests list in external_dependencies.
    install_requires=["cronsim>=2.4"],
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    include_package_data=False,
    zip_safe=False,
    classifiers=["Framework :: Odoo", "Framework :: Odoo :: 18.0", "Programming Language :: Python :: 3"],
)
