"""Pure domain of the population adapter: identifiers, names, purposes and the citizen record."""
