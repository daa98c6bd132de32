"""The simulated department systems: drafting events, mixing them and injecting faults."""
