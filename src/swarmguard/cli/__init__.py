"""The ``swarmguard`` command line (Typer); the only place that prints or configures logging."""

__all__: list[str] = []
