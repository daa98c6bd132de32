"""Allow `python -m lgsp_gateway`."""

from lgsp_gateway.main import run

run()
