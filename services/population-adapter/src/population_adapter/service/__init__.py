"""The adapter's use cases: verify an identity, look up a citizen, each as an audited access."""
