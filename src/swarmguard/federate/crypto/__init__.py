"""Protection of model updates: CKKS homomorphic encryption (TenSEAL) and pairwise masking.

Contract: agents encrypt (or mask) their weighted updates; the coordinator only adds them and never
holds a secret; agents recover the aggregate. TenSEAL is imported only when CKKS is used.
"""

from __future__ import annotations

__all__: list[str] = []
