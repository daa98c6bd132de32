"""Unit tests of the adapter: no broker, no network (the fakes are in population_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The fakes module beside this file (tests run with --import-mode=importlib: no sys.path entry).
sys.path.insert(0, str(Path(__file__).parent))
