"""Simulated departments: real integrators of the LGSP, over HTTP only, with ground truth.

`scenario` (YAML) says what to send; the departments (`finance`, `health`, `tourism`, `tthc`)
draft events; `plan` interleaves them deterministically and injects faults; `onboarding`
registers them with the registry; `runner` sends through the gateway (`gateway`); and
`ground_truth` writes what was sent and, from `kpi_eval`, the KPI values that must result.
`replay` publishes a recorded stream as fast as the gateway accepts it.
"""
