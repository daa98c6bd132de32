"""The simulated national population database: a synthetic population and its SQLite store."""
