"""Vietnamese public-sector rules shared by the platform: CCCD numbers, names, units."""
