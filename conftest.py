"""Root pytest configuration.

Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), every cell of one chapter
notebook must run in the same worker, because they share one kernel: nbval's items are put in
one group per notebook. Other tests are spread freely.
"""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(name=str(item.path)))
