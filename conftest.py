"""Root pytest configuration: shared fixtures come from the lgsp_cli testing plugin."""

pytest_plugins = ["lgsp_cli.testing"]
