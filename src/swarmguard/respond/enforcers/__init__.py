"""Enforcers: ``dryrun`` (the default), ``nftables``, ``quarantine`` and ``webhook``."""
