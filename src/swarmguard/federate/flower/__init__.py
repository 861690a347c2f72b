"""The real deployment on Flower 1.42's message API.

``server_app`` (ServerApp, run by the SuperLink on the coordinator), ``client_app`` (ClientApp,
run by each agent's SuperNode), ``records`` (what crosses the wire), ``deploy`` (starting the
Flower processes) and ``service`` (the coordinator and agent roles the CLI runs).
"""

from __future__ import annotations

__all__: list[str] = []
