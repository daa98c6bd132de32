"""The bench harnesses' tests import the bench scripts from bench/ (not a package)."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests run with --import-mode=importlib, which puts no folder on sys.path.
BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
