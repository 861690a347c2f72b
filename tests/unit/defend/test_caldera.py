from __future__ import annotations

from pathlib import Path

import pytest

from swarmguard.defend.caldera import load_adversary, load_library, resolve, surrogate
from swarmguard.errors import InputError


def test_every_file_loads_or_is_reported(caldera: Path) -> None:
    lib = load_library(caldera)
    files = sorted(p for p in caldera.rglob("*.yml"))
    reported = {p for p, _ in lib.problems}
    loaded = {a.path for a in lib.abilities.values()} | {a.path for a in lib.adversaries.values()}
    n_other = len(lib.planners) + len(lib.sources)
    assert len(lib.abilities) == 39 and len(lib.adversaries) == 24
    assert len(lib.planners) == 5 and len(lib.sources) == 3
    assert len(loaded) + n_other == len(files)
    assert all(reason for _, reason in lib.problems)
    # Check: every ability lives in another plugin, so it is reported and cannot run
    reasons = dict(lib.problems)
    for adv in lib.adversaries.values():
        runnable = resolve(adv, lib).runnable
        if adv.path in reported:
            # the library's reason agrees with resolve(): never "runs with the rest" wrongly
            assert ("cannot run" in reasons[adv.path]) == (not runnable), adv.name
    cannot = {a.name for a in lib.adversaries.values() if "cannot run" in reasons.get(a.path, "")}
    assert cannot == {"Check", "Printer Queue", "Undercover", "You Shall (Not) Bypass"}
    stand_in = {a.name for a in lib.adversaries.values() if "stand-in" in reasons.get(a.path, "")}
    assert {"Defense Evasion", "Enumerator", "Stowaway"} <= stand_in
    # planners the simulator does not implement are reported, the others load silently
    unsupported = {r.split("'")[1] for _, r in lib.problems if r.startswith("planner ")}
    assert unsupported == {"look ahead", "bayes", "guided"}
    assert {"batch", "buckets"} <= set(lib.planners)


def test_both_id_spellings_and_platform_expansion(caldera: Path) -> None:
    lib = load_library(caldera)
    names = {a.name for a in lib.adversaries.values()}
    assert {"Lateral Movement - Esentutl", "Thief", "Ransack", "Discovery"} <= names
    admin = lib.abilities["530e47c6-8592-42bf-91df-c59ffbd8541b"]  # windows: pwsh,psh
    assert {(e.platform, e.name) for e in admin.executors} == {
        ("windows", "pwsh"),
        ("windows", "psh"),
    }
    copy = lib.abilities["65048ec1-f7ca-49d3-9410-10813e472b30"]
    assert {r.module for r in copy.requirements} == {
        "not_exists",
        "basic",
        "no_backwards_movement",
        "reachable",
    }
    assert "remote.host.fqdn|has_54ndc47_copy" in copy.produces
    thief = next(a for a in lib.adversaries.values() if a.name == "Thief")
    steps = resolve(thief, lib).steps
    assert [s.tactic for s in steps][-1] == "exfiltration"
    assert "file.sensitive.extension" in steps[1].needs
    assert "file.sensitive.extension" in lib.seeded_facts


def test_missing_abilities_are_mapped_by_technique(caldera: Path) -> None:
    lib = load_library(caldera)
    dropbox = next(a for a in lib.adversaries.values() if a.name == "Advanced Thief via DropBox")
    r = resolve(dropbox, lib)
    assert len(r.missing) == 2 and len(r.surrogates) == 2
    assert [s.tactic for s in r.steps][-1] == "exfiltration"
    assert surrogate("x", "Package Staged Files to Password-Protected Archive") is not None


@pytest.mark.parametrize(
    "text",
    [
        "name: x\natomic_ordering: []\n",  # no id
        "id: a\natomic_ordering: [b]\n",  # no name
        "id: a\nname: x\natomic_ordering: 5\n",  # not a list
        "id: a\nname: x\natomic_ordering: [\n",  # not YAML
        "- id: a\n",  # a list, not a mapping
    ],
)
def test_malformed_profiles_raise(tmp_path: Path, text: str) -> None:
    p = tmp_path / "bad.yml"
    p.write_text(text)
    with pytest.raises(InputError, match="bad.yml"):
        load_adversary(p)


def test_core_format_ability(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "abilities" / "discovery").mkdir(parents=True)
    (root / "adversaries").mkdir()
    (root / "abilities" / "discovery" / "a1.yml").write_text(
        "id: a1\nname: n\ntactic: discovery\ntechnique_id: T1082\ntechnique_name: t\n"
        "executors:\n- name: sh\n  platform: linux\n  command: 'uname -a #{host.user.name}'\n"
        "requirements:\n- module: plugins.stockpile.app.requirements.paw_provenance\n"
        "  relationship_match:\n  - source: host.user.name\n"
    )
    (root / "abilities" / "discovery" / "broken.yml").write_text("- id: b\n  name: n\n")
    (root / "adversaries" / "p.yml").write_text("id: p\nname: P\natomic_ordering: [a1, zz]\n")
    lib = load_library(root)
    ab = lib.abilities["a1"]
    assert ab.technique_id == "T1082" and ab.needs == {"host.user.name"}
    assert ab.requirements[0].module == "paw_provenance"
    reasons = dict(lib.problems)
    assert "no tactic" in reasons[str(root / "abilities" / "discovery" / "broken.yml")]
    assert "1 of 2 abilities" in reasons[str(root / "adversaries" / "p.yml")]
