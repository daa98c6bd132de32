"""Root pytest configuration: shared fixtures come from the lgsp_devkit.testing plugin."""

pytest_plugins = ["lgsp_devkit.testing"]
