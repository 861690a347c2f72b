"""Composition root of an edge agent: sources, detectors, policy and enforcers wired together."""
