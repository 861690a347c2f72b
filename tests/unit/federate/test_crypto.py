from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmguard.federate.crypto.ckks import (
    CkksParams,
    add_encrypted,
    context_is_private,
    decrypt_vector,
    encrypt_vector,
    generate_keys,
    load_context,
)
from swarmguard.federate.crypto.keys import write_keys
from swarmguard.federate.crypto.masking import mask_vector, pair_seeds, unmask_sum

SMALL = CkksParams()  # the defaults, as deployed


@pytest.fixture(scope="module")
def keys():  # type: ignore[no-untyped-def]
    return generate_keys(SMALL)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(1, 5),
    st.integers(0, 2**31),
    st.floats(0.01, 100.0),
)
def test_encrypted_aggregate_equals_plaintext(  # type: ignore[no-untyped-def]
    keys, length: int, clients: int, seed: int, spread: float
) -> None:
    rng = np.random.default_rng(seed)
    updates = [rng.normal(0, spread, length) for _ in range(clients)]
    weights = rng.dirichlet(np.ones(clients))
    agent = load_context(keys.secret)
    coordinator = load_context(keys.public)
    enc = [encrypt_vector(agent, w * u) for w, u in zip(weights, updates, strict=True)]
    total = add_encrypted(coordinator, enc)
    plain = sum(w * u for w, u in zip(weights, updates, strict=True))
    assert np.abs(decrypt_vector(agent, total) - plain).max() < 1e-3
    assert len(total.chunks) == -(-length // SMALL.slots)


def test_public_context_cannot_decrypt(keys) -> None:  # type: ignore[no-untyped-def]
    coordinator = load_context(keys.public)
    assert not context_is_private(coordinator)
    assert context_is_private(load_context(keys.secret))
    enc = encrypt_vector(coordinator, np.ones(10))  # anyone may encrypt with the public key
    with pytest.raises(ValueError, match="secret key"):
        decrypt_vector(coordinator, enc)
    assert np.allclose(decrypt_vector(load_context(keys.secret), enc), 1.0, atol=1e-6)


def test_a_ciphertext_reveals_nothing_obvious(keys) -> None:  # type: ignore[no-untyped-def]
    vec = np.arange(100, dtype=np.float64)
    enc = encrypt_vector(load_context(keys.public), vec)
    assert vec.tobytes() not in enc.chunks[0]
    again = encrypt_vector(load_context(keys.public), vec)
    assert enc.chunks != again.chunks  # randomised encryption


def test_key_files(tmp_path: Path) -> None:
    files = write_keys(tmp_path, SMALL)
    assert files.secret.stat().st_mode & 0o077 == 0
    assert not context_is_private(load_context(files.public))
    assert context_is_private(load_context(files.secret))


def test_mismatched_lengths_raise(keys) -> None:  # type: ignore[no-untyped-def]
    ctx = load_context(keys.secret)
    with pytest.raises(ValueError, match="differ"):
        add_encrypted(ctx, [encrypt_vector(ctx, np.ones(3)), encrypt_vector(ctx, np.ones(4))])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.integers(1, 6), st.integers(0, 2**31))
def test_masked_sum_equals_plaintext_sum(length: int, clients: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vecs = [rng.normal(0, 10, length) for _ in range(clients)]
    seeds = pair_seeds(clients, seed)
    masked = [mask_vector(v, i, seeds) for i, v in enumerate(vecs)]
    assert np.abs(unmask_sum(masked) - sum(vecs)).max() < 1e-6
    if clients > 1:
        fixed = np.round(vecs[0] * 2.0**32).astype(np.int64).view(np.uint64)
        assert not np.array_equal(masked[0], fixed)
