"""Run the coordinator app under uvicorn: HTTP, or HTTPS with a cert from ``swarmguard certs``.

Examples
--------
>>> check_tls(ServiceSettings(tls_cert=Path("server.pem")))
Traceback (most recent call last):
...
swarmguard.errors.SwarmguardError: give both --tls-cert and --tls-key, or neither
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.errors import InputError, SwarmguardError

__all__ = ["check_tls", "load_tokens", "serve"]

log = logging.getLogger(__name__)


def check_tls(settings: ServiceSettings) -> None:
    """Raise a clear error unless both or neither TLS files are given, and they exist."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SwarmguardError("give both --tls-cert and --tls-key, or neither")
    for path in (settings.tls_cert, settings.tls_key):
        if path is not None and not path.is_file():
            raise InputError(path, "no such file (make one with `swarmguard certs`)")


def load_tokens(path: Path) -> dict[str, str]:
    r"""Read ``{agent_id: token}`` from a TOML or JSON file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "tokens.toml"
    ...     _ = p.write_text('edge1 = "s3cret"\n')
    ...     load_tokens(p)
    {'edge1': 's3cret'}
    """
    import json

    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, f"not a valid tokens file: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()
    ):
        raise InputError(path, 'expected a table of agent_id = "token" strings')
    return dict(data)


def serve(settings: ServiceSettings) -> None:
    """Build the app and serve it until interrupted."""
    import uvicorn

    from swarmguard.coordinator.app import create_app

    check_tls(settings)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
