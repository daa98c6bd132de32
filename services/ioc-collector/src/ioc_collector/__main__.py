"""Allow `python -m ioc_collector`."""

from ioc_collector.main import run

run()
