"""Registry domain: pure rules about organisations, sources, contracts and consumers (no I/O)."""
