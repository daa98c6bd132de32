"""Webhook delivery workers: push approved consumers' records to their subscribed URLs."""
