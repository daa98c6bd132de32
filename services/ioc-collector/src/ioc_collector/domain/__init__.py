"""The collector's domain: KPI definitions, event-time windows and aggregation state (pure)."""
