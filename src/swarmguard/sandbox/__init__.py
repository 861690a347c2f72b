"""Distributed sandbox: detonations scheduled on Ray, with reports and detector alerts."""
