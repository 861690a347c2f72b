"""``python -m swarmguard`` runs the command line."""

from swarmguard.cli.app import main

main()
