"""HTTP entrypoints of the population adapter."""
