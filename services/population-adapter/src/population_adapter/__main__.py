"""Allow `python -m population_adapter`."""

from population_adapter.main import run

run()
