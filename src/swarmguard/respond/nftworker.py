r"""The nftables worker: run inside a network namespace, applies scripts read from stdin.

Started by ``NftWorker`` as ``ip netns exec NS python -m swarmguard.respond.nftworker``. It
prints ``{"ready": true}`` once, then answers each JSON line ``{"script": ..., "json": bool}``
with ``{"rc": int, "out": str, "err": str}``; it exits when stdin closes.

Examples
--------
>>> import io
>>> class Fake:
...     def run(self, script, *, json_output=False, echo=False):
...         return "ok:" + script
>>> out = io.StringIO()
>>> serve(Fake(), io.StringIO('{"script": "list tables"}\n'), out)
>>> out.getvalue().splitlines()[1]
'{"rc": 0, "out": "ok:list tables", "err": ""}'
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from swarmguard.respond.nft import LibNft, Nft, NftError

__all__ = ["serve"]


def serve(nft: Nft, stdin: TextIO, stdout: TextIO) -> None:
    """Answer script requests from ``stdin`` on ``stdout`` until end of input."""
    stdout.write('{"ready": true}\n')
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            out = nft.run(
                str(req["script"]),
                json_output=bool(req.get("json", False)),
                echo=bool(req.get("echo", False)),
            )
            reply = {"rc": 0, "out": out, "err": ""}
        except NftError as exc:
            reply = {"rc": 1, "out": "", "err": str(exc)}
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"rc": 2, "out": "", "err": f"bad request: {exc}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


def main() -> None:
    """Serve on the standard streams with a libnftables context of this namespace."""
    nft = LibNft()
    try:
        serve(nft, sys.stdin, sys.stdout)
    finally:
        nft.close()


if __name__ == "__main__":
    main()
