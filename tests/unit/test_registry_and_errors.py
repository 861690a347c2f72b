import pytest

from swarmguard.detect.base import DETECTORS
from swarmguard.errors import MissingExtraError
from swarmguard.registry import Registry, UnknownPluginError


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(UnknownPluginError, match="unknown detector 'nope'; known: .*svm"):
        DETECTORS.get("nope")


def test_missing_extra_is_told_apart_from_unknown_name() -> None:
    reg: Registry[object] = Registry("detector", "swarmguard.test-none")
    reg.add("deep", "swarmguard_module_that_is_not_installed:Thing", extra="deep")
    with pytest.raises(MissingExtraError, match=r"pip install 'swarmguard\[deep\]'"):
        reg.get("deep")


def test_skip_log_names_packets_and_lines() -> None:
    from swarmguard.errors import SkipLog

    log = SkipLog()
    log.add("a.pcap", None, "cut inside a record", packet=3)
    log.add("b.csv", 7, "wrong column count")
    assert "a.pcap: 1 (first at packet 3: cut inside a record)" in log.summary()
    assert "b.csv: 1 (first at line 7" in log.summary()
    assert log.count == 2
