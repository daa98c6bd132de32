# Commands a newcomer needs. `make help` lists them.
.DEFAULT_GOAL := help
.PHONY: help run test lint fmt types unit kafka lock bench

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

run: ## Run the platform: Kafka + the four services (Ctrl-C stops all)
	./scripts/run

test: ## Run the whole test suite (what CI runs)
	./scripts/test

lint: ## ruff check and format check
	uv run ruff check . && uv run ruff format --check .

fmt: ## Format and auto-fix
	uv run ruff format . && uv run ruff check --fix .

types: ## mypy --strict
	uv run mypy

unit: ## Fast tests only (no broker)
	uv run pytest -m "not kafka and not postgres and not browser"

kafka: ## Run only a local Kafka broker on 127.0.0.1:9092
	uv run lgsp dev kafka

bench: ## Run every benchmark on one local broker; writes bench/results.json, bench/RESULTS.md
	uv run --frozen python bench/run_all.py

lock: ## Refresh uv.lock after changing dependencies
	uv lock
