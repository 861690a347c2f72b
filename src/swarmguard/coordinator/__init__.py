"""Composition root of the coordinator service: REST API, store, correlation, dashboard."""
