"""python -m lgsp_gateway.delivery: run one webhook delivery worker."""

from lgsp_gateway.delivery.main import run

run()
