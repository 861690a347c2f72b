"""Key files for encrypted aggregation: generate once, give the secret only to agents.

``write_keys(DIR)`` writes ``DIR/ckks-secret.ctx`` (parameters, public and secret key: copy it to
every agent over a trusted channel, mode 0600) and ``DIR/ckks-public.ctx`` (parameters and public
key only: the coordinator's copy). ``swarmguard federate keys --out DIR`` runs it. Keys should be
made on an agent or an offline host, never on the coordinator.

Examples
--------
>>> import tempfile
>>> from swarmguard.federate.crypto.ckks import CkksParams, context_is_private, load_context
>>> with tempfile.TemporaryDirectory() as d:
...     files = write_keys(Path(d), CkksParams(poly_modulus_degree=4096,
...                                            coeff_mod_bit_sizes=(40, 40), scale_bits=25))
...     context_is_private(load_context(files.public)), oct(files.secret.stat().st_mode & 0o777)
(False, '0o600')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from swarmguard.federate.crypto.ckks import CkksParams, generate_keys

__all__ = ["PUBLIC_KEY_FILE", "SECRET_KEY_FILE", "KeyFiles", "write_keys"]

SECRET_KEY_FILE = "ckks-secret.ctx"
PUBLIC_KEY_FILE = "ckks-public.ctx"


@dataclass(frozen=True)
class KeyFiles:
    """Paths of the written key files."""

    secret: Path
    public: Path


def write_keys(directory: Path, params: CkksParams | None = None) -> KeyFiles:
    """Generate a CKKS key pair into ``directory`` (secret file readable by its owner only)."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = generate_keys(params)
    secret = directory / SECRET_KEY_FILE
    public = directory / PUBLIC_KEY_FILE
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(keys.secret)
    os.chmod(secret, 0o600)
    public.write_bytes(keys.public)
    return KeyFiles(secret=secret, public=public)
