"""swarmguard: network security monitoring by cooperating AI agents.

The package is laid out along the data flow (see ``ARCHITECTURE.md``)::

    records <- acquire <- features <- detect <- eval <- cli

Each stage imports only ``records``, the top-level helpers (``registry``, ``config``,
``errors``) and stages to its left.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
