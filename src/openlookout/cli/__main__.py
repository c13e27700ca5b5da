"""``python -m openlookout.cli``: the same as the ``openlookout`` console script."""

from openlookout.cli.main import app

app()
