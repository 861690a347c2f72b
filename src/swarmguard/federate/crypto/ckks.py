"""CKKS homomorphic encryption of model updates (TenSEAL), packed into few ciphertexts.

Protocol of one encrypted round (Cheon, Kim, Kim & Song, "Homomorphic encryption for arithmetic
of approximate numbers", ASIACRYPT 2017; TenSEAL: Benaissa et al., 2021):

1. The coordinator learns each agent's weight factors (rows, quality score, importance: plain
   metadata) and tells agent ``i`` its normalised coefficient ``w_i``.
2. Agent ``i`` multiplies its flattened parameters by ``w_i`` and encrypts the vector with the
   shared public key, packed ``slots`` values per ciphertext (4,096 at the default ring degree
   8,192, so a 300,000-weight model is 74 ciphertexts).
3. The coordinator adds the agents' ciphertexts slot-wise. It holds the *public* context only
   (encryption parameters and public key, no secret key), so it can add but cannot decrypt.
4. Every agent decrypts the sum, which is the weighted average ``sum_i w_i theta_i``.

Only addition is done on ciphertexts, so no multiplicative depth is needed: one 60-bit data
prime and a 60-bit special prime (120 bits, within the 218-bit bound for 128-bit security at
degree 8,192) with a 2^40 scale give about 1e-7 absolute error per weight.

Examples
--------
>>> import numpy as np
>>> keys = generate_keys(CkksParams(poly_modulus_degree=4096, coeff_mod_bit_sizes=(40, 40),
...                                 scale_bits=25))
>>> public = load_context(keys.public)
>>> context_is_private(public)
False
>>> a = encrypt_vector(load_context(keys.secret), np.array([1.0, 2.0, 3.0]))
>>> b = encrypt_vector(load_context(keys.secret), np.array([0.5, 0.5, 0.5]))
>>> total = add_encrypted(public, [a, b])
>>> decrypt_vector(load_context(keys.secret), total).round(2).tolist()
[1.5, 2.5, 3.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from swarmguard.errors import MissingExtraError

__all__ = [
    "CkksKeys",
    "CkksParams",
    "EncryptedVector",
    "add_encrypted",
    "context_is_private",
    "decrypt_vector",
    "encrypt_vector",
    "generate_keys",
    "load_context",
]

FloatArray = npt.NDArray[np.float64]


def _tenseal() -> Any:
    try:
        import tenseal
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingExtraError(
            "CKKS encryption needs TenSEAL: pip install 'swarmguard[federated]'"
        ) from exc
    return tenseal


@dataclass(frozen=True)
class CkksParams:
    """CKKS encryption parameters.

    Parameters
    ----------
    poly_modulus_degree
        Ring degree; a ciphertext packs half as many values (slots).
    coeff_mod_bit_sizes
        Bit sizes of the coefficient modulus primes (data primes, then the special prime).
    scale_bits
        Encoding scale ``2**scale_bits``; sets the precision.
    """

    poly_modulus_degree: int = 8192
    coeff_mod_bit_sizes: tuple[int, ...] = (60, 60)
    scale_bits: int = 40

    @property
    def slots(self) -> int:
        """Values packed into one ciphertext."""
        return self.poly_modulus_degree // 2


@dataclass(frozen=True)
class CkksKeys:
    """Serialised contexts: ``secret`` (agents only) and ``public`` (coordinator)."""

    secret: bytes
    public: bytes


@dataclass(frozen=True)
class EncryptedVector:
    """A real vector of ``length`` values encrypted as serialised CKKS ciphertexts."""

    chunks: tuple[bytes, ...]
    length: int

    @property
    def nbytes(self) -> int:
        """Bytes on the wire."""
        return sum(len(c) for c in self.chunks)


def generate_keys(params: CkksParams | None = None) -> CkksKeys:
    """Make a fresh CKKS key pair; return the secret and the public context, serialised."""
    ts = _tenseal()
    p = params or CkksParams()
    ctx = ts.context(
        ts.SCHEME_TYPE.CKKS,
        poly_modulus_degree=p.poly_modulus_degree,
        coeff_mod_bit_sizes=list(p.coeff_mod_bit_sizes),
    )
    ctx.global_scale = 2.0**p.scale_bits
    secret = ctx.serialize(save_secret_key=True, save_galois_keys=False, save_relin_keys=False)
    ctx.make_context_public()
    public = ctx.serialize(save_galois_keys=False, save_relin_keys=False)
    return CkksKeys(secret=bytes(secret), public=bytes(public))


def load_context(data: bytes | Path) -> Any:
    """Deserialise a context made by ``generate_keys`` (bytes or a file path)."""
    ts = _tenseal()
    raw = Path(data).read_bytes() if isinstance(data, Path) else data
    return ts.context_from(raw)


def context_is_private(context: Any) -> bool:
    """Whether ``context`` holds the secret key (the coordinator's must not)."""
    return bool(context.is_private())


def _slots(context: Any) -> int:
    return int(context.seal_context().data.first_context_data().parms().poly_modulus_degree()) // 2


def encrypt_vector(context: Any, vector: FloatArray) -> EncryptedVector:
    """Encrypt ``vector`` packed ``slots`` values per ciphertext."""
    ts = _tenseal()
    vec = np.asarray(vector, dtype=np.float64).ravel()
    slots = _slots(context)
    chunks = tuple(
        bytes(ts.ckks_vector(context, vec[i : i + slots].tolist()).serialize())
        for i in range(0, max(vec.size, 1), slots)
    )
    return EncryptedVector(chunks=chunks, length=int(vec.size))


def add_encrypted(context: Any, vectors: list[EncryptedVector]) -> EncryptedVector:
    """Slot-wise sum of encrypted vectors of equal length (needs no secret key)."""
    ts = _tenseal()
    if not vectors:
        raise ValueError("nothing to add")
    first = vectors[0]
    if any(v.length != first.length or len(v.chunks) != len(first.chunks) for v in vectors):
        raise ValueError("encrypted vectors differ in length")
    out = []
    for k in range(len(first.chunks)):
        acc = ts.ckks_vector_from(context, first.chunks[k])
        for v in vectors[1:]:
            acc += ts.ckks_vector_from(context, v.chunks[k])
        out.append(bytes(acc.serialize()))
    return EncryptedVector(chunks=tuple(out), length=first.length)


def decrypt_vector(context: Any, vector: EncryptedVector) -> FloatArray:
    """Decrypt with a context that holds the secret key."""
    ts = _tenseal()
    if not context_is_private(context):
        raise ValueError("decryption needs the secret key; this context is public")
    parts = [np.asarray(ts.ckks_vector_from(context, c).decrypt()) for c in vector.chunks]
    values = np.concatenate(parts) if parts else np.zeros(0)
    return np.asarray(values[: vector.length], dtype=np.float64)
