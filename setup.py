"""What pyproject.toml cannot say: the top-level `alembic/` folder ships as `portal.migrations`.

The repository keeps its migrations in `alembic/` (alembic's own layout); an installed wheel has
no repository beside it, so the same files go into the wheel inside the `portal` package, where
`portal.db` finds them.
"""

from setuptools import find_packages, setup

MIGRATIONS = {"portal.migrations": "alembic", "portal.migrations.versions": "alembic/versions"}

setup(
    packages=[*find_packages(include=["archive*", "access*", "portal*", "retention*"]), *MIGRATIONS],
    package_dir=MIGRATIONS,
)
