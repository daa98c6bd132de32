"""Allow `python -m lgsp_registry`."""

from lgsp_registry.main import run

run()
