"""Every registered detector passes the same checks (STYLE.md section 6).

Synthetic rows are used here only to exercise mechanics; quality is measured on real data
elsewhere.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from swarmguard.detect.base import DETECTORS, Detector, SupportsParameters
from swarmguard.errors import InputError
from swarmguard.records.dataset import LabeledTable


def _rows(seed: int, n: int = 400) -> LabeledTable:
    rng = np.random.default_rng(seed)
    attack = rng.random(n) < 0.4
    x1 = np.where(attack, rng.normal(3, 1, n), rng.normal(0, 1, n))
    x2 = rng.exponential(1000, n) * np.where(attack, 10, 1)
    proto = np.where(attack & (rng.random(n) < 0.7), "udp", "tcp")
    kinds = np.where(rng.random(n) < 0.5, "a", "b")
    table = pa.table(
        {
            "uid": [f"s:{i + 1}" for i in range(n)],
            "x1": x1,
            "x2": x2,
            "proto": proto,
            "label": np.where(attack, "dos", "benign").tolist(),
            "label_original": np.where(attack, kinds, "normal").tolist(),
        }
    )
    return LabeledTable(table, "synthetic", ("x1", "x2"), ("proto",))


def _new(name: str, seed: int = 0) -> Detector:
    return DETECTORS.get(name)(seed=seed)  # type: ignore[call-arg]


NAMES = DETECTORS.names()


@pytest.mark.parametrize("name", NAMES)
def test_implements_the_protocol(name: str) -> None:
    assert isinstance(_new(name), Detector)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_probabilities_and_separate_classes(name: str) -> None:
    det = _new(name)
    if getattr(det, "learned", True) is False:
        pytest.skip(f"{name} uses fixed rules; nothing is learned from these synthetic columns")
    det.fit(_rows(0))
    test = _rows(1)
    scores = det.score(test)
    assert scores.shape == (test.num_rows,)
    assert np.all((scores >= 0) & (scores <= 1))
    attack = test.attack_mask()
    assert scores[attack].mean() > scores[~attack].mean()
    assert 0.0 < det.threshold < 1.0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(name: str) -> None:
    a, b = _new(name, 3), _new(name, 3)
    a.fit(_rows(0))
    b.fit(_rows(0))
    np.testing.assert_array_equal(a.score(_rows(1)), b.score(_rows(1)))


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name: str, tmp_path: Path) -> None:
    det = _new(name)
    det.fit(_rows(0))
    det.save(tmp_path / "m.joblib")
    again = DETECTORS.get(name).load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(det.score(_rows(1)), again.score(_rows(1)))
    assert again.threshold == det.threshold


@pytest.mark.parametrize("name", NAMES)
def test_load_rejects_a_file_that_is_not_a_model(name: str, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.joblib"
    bogus.write_bytes(b"not a model at all")
    with pytest.raises(InputError, match="not a swarmguard model"):
        DETECTORS.get(name).load(bogus)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_a_clear_error(name: str) -> None:
    det = _new(name)
    with pytest.raises(RuntimeError, match="before fit"):
        det.score(_rows(1))
    one_class = _rows(0).take(np.flatnonzero(~_rows(0).attack_mask()))
    with pytest.raises(ValueError, match="both benign and attack"):
        det.fit(one_class)
    det.fit(_rows(0))
    other = _rows(1)
    other = LabeledTable(other.table, "other-format", other.numeric_columns, ())
    with pytest.raises(ValueError, match="trained on synthetic"):
        det.score(other)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_round_trip(name: str) -> None:
    det = _new(name)
    if not isinstance(det, SupportsParameters):
        pytest.skip(f"{name} has no learned weights to exchange")
    det.fit(_rows(0))
    params = det.get_parameters()
    before = det.score(_rows(1))
    det.set_parameters([p * 1.0 for p in params])
    np.testing.assert_array_equal(before, det.score(_rows(1)))
    det.set_parameters([np.zeros_like(p) for p in params])
    assert not np.array_equal(before, det.score(_rows(1)))
