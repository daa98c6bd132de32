"""Allow `python -m lgsp_simulators.national_population`."""

from lgsp_simulators.national_population.app import run

run()
