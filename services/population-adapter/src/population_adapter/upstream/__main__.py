"""Allow `python -m population_adapter.upstream`."""

from population_adapter.upstream.app import run

run()
