from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import FAKE, blobs

from swarmguard.acquire.datasets import load_dataset
from swarmguard.eval.splits import split_rows
from swarmguard.federate.experiment import build_sites, f1_on_test, simulate
from swarmguard.federate.simulation import FederationConfig, run_federation
from swarmguard.records.dataset import LabeledTable


def _run(**kw):  # type: ignore[no-untyped-def]
    cfg = FederationConfig(detector=FAKE, clients=3, rounds=4, **kw)
    sites = build_sites(blobs(1500, seed=7), cfg)
    return run_federation(sites, cfg), sites


def test_ckks_and_secagg_rounds_equal_plaintext_rounds() -> None:
    plain, _ = _run(protect="none", partition="dirichlet:0.5")
    ckks, _ = _run(protect="ckks", partition="dirichlet:0.5")
    masked, _ = _run(protect="secagg", partition="dirichlet:0.5")
    for a, b, c in zip(plain.parameters, ckks.parameters, masked.parameters, strict=True):
        assert np.abs(a - b).max() < 1e-3
        assert np.abs(a - c).max() < 1e-6
    assert ckks.bytes_per_round()["up"] > plain.bytes_per_round()["up"]
    assert ckks.extra["ciphertexts_per_update"] == 1


def test_contract_fields_and_baselines_on_non_iid_mechanics() -> None:
    train, test = blobs(1500, seed=8), blobs(600, seed=9)
    cfg = FederationConfig(detector=FAKE, clients=3, rounds=5, partition="by-class", protect="ckks")
    out, _ = simulate(train, test, cfg, latency_samples=5)
    for key in (
        "tp",
        "fp",
        "tn",
        "fn",
        "detection_rate",
        "false_alarm_rate",
        "precision",
        "f1",
        "accuracy",
        "per_class_detection_rate",
        "n_train",
        "n_test",
        "fit_seconds",
        "score_seconds",
        "flows_per_second",
        "latency_ms_p50",
        "latency_ms_p99",
    ):
        assert key in out
    assert (out["rounds"], out["clients"], out["protect"]) == (5, 3, "ckks")
    assert set(out["bytes_per_round"]) == {"up", "down"}
    assert out["seconds_per_round"] > 0
    # by-class: each site has seen one attack family only, so alone it misses the other;
    # the federation has seen both
    assert out["f1"] >= 0.98 * out["centralised_f1"]
    assert out["f1"] > out["local_only_f1"] + 0.1


@pytest.fixture(scope="module")
def nsl_split(datasets_dir: Path) -> tuple[LabeledTable, LabeledTable]:
    rows = load_dataset(datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt")
    split = split_rows(rows, by="random", test_fraction=0.3, seed=0)
    return rows.take(split.train), rows.take(split.test)


def test_poisoned_agent_wrecks_fedavg_but_not_robust_rules(
    nsl_split: tuple[LabeledTable, LabeledTable],
) -> None:
    # real rows (NSL-KDD), the small logistic model: one of five agents sends poison each round
    train, test = nsl_split
    figures = {}
    for strategy in ("fedavg", "trimmed-mean", "krum"):
        for poison in ("random", "scale"):
            cfg = FederationConfig(
                detector=FAKE,
                clients=5,
                rounds=5,
                strategy=strategy,
                poisoned=(2,),
                poison=poison,
                poison_scale=50.0,
                seed=1,
            )
            sites = build_sites(train, cfg)
            result = run_federation(sites, cfg)
            assert result.threshold == sites[0].detector.threshold
            figures[(strategy, poison)] = f1_on_test(sites[0].detector, test)
    clean_cfg = FederationConfig(detector=FAKE, clients=5, rounds=5, seed=1)
    clean_sites = build_sites(train, clean_cfg)
    run_federation(clean_sites, clean_cfg)
    clean = f1_on_test(clean_sites[0].detector, test)
    print(
        f"\nF1 clean fedavg {clean:.3f};",
        {f"{s}/{p}": round(v, 3) for (s, p), v in figures.items()},
    )
    for poison in ("random", "scale"):
        assert figures[("fedavg", poison)] < clean - 0.1
        assert figures[("trimmed-mean", poison)] > clean - 0.03
        assert figures[("krum", poison)] > clean - 0.03


def test_bad_configs_raise() -> None:
    with pytest.raises(ValueError, match="plaintext"):
        FederationConfig(
            detector=FAKE, clients=3, rounds=1, protect="ckks", strategy="krum"
        ).validate()
    with pytest.raises(ValueError, match="protect"):
        FederationConfig(detector=FAKE, clients=3, rounds=1, protect="rot13").validate()
    with pytest.raises(ValueError, match="rounds"):
        FederationConfig(detector=FAKE, clients=3, rounds=0).validate()
    with pytest.raises(ValueError, match="federatedly"):
        build_sites(blobs(100, 0), FederationConfig(detector="svm", clients=2, rounds=1))
