#!/usr/bin/env bash
# Sourced by scripts/run and scripts/test: makes sure uv and the locked workspace are installed.
set -euo pipefail
UV_VERSION="0.13.9"

export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  echo "» installing uv $UV_VERSION (from PyPI)"
  python3 -m pip install --user --quiet "uv==$UV_VERSION"
fi
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is needed to run the local Kafka broker (Java 17 and Maven)" >&2
    exit 1
  fi
done
echo "» syncing the workspace (uv.lock)"
uv sync --frozen --all-packages --quiet
