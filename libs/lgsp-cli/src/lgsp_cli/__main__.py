"""Allow `python -m lgsp_cli`."""

from lgsp_cli.main import app

app()
