"""Dataset readers: the shared samples, both CIC vocabularies, and bad input."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from swarmguard.acquire.datasets import DATASET_FORMATS, detect_format, load_dataset
from swarmguard.acquire.datasets.cic_ids2017 import EXCLUDED as CIC_EXCLUDED
from swarmguard.acquire.datasets.taxonomy import NSL_KDD_CATEGORY
from swarmguard.acquire.datasets.unsw_nb15 import EXCLUDED as UNSW_EXCLUDED
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.dataset import IDENTITY_COLUMNS, RESERVED_COLUMNS
from swarmguard.records.labels import AttackClass

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "datasets"
NSL_ROW = b"0,tcp,http,SF,215,45076," + b"0," * 35 + b"normal,21\r\n"


@pytest.fixture(scope="module")
def nsl_file(datasets_dir: Path) -> Path:
    return datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt"


@pytest.fixture(scope="module")
def unsw_file(datasets_dir: Path) -> Path:
    return datasets_dir / "unsw-nb15" / "UNSW_NB15_sample.csv"


def _no_feature_overlap(lt_columns: tuple[str, ...]) -> None:
    assert not set(lt_columns) & {*RESERVED_COLUMNS, *IDENTITY_COLUMNS}


# --- the shared samples ------------------------------------------------------------------


def test_nsl_kdd_sample(nsl_file: Path) -> None:
    assert detect_format(nsl_file) == "nsl-kdd"
    lt = load_dataset(nsl_file)
    assert lt.format == "nsl-kdd" and lt.num_rows == 25_192
    originals = Counter(lt.original_labels())
    assert originals["normal"] == 13_449
    categories = Counter(NSL_KDD_CATEGORY[k] for k in lt.original_labels() if k != "normal")
    assert categories == {"dos": 9_234, "probe": 2_289, "r2l": 209, "u2r": 11}
    # the README says 22 attack names; the file holds 21 (perl, in KDDTrain+, is absent)
    assert len(set(originals) - {"normal"}) == 21
    labels = Counter(lt.labels())
    assert labels["benign"] == 13_449 and labels["brute_force"] == 10
    assert "unknown_attack" not in labels
    assert lt.categorical_columns == ("protocol_type", "service", "flag")
    assert len(lt.numeric_columns) == 38
    _no_feature_overlap(lt.numeric_columns + lt.categorical_columns)
    assert lt.table.column("uid")[0].as_py() == "KDDTrain+_20Percent.txt:1"
    assert lt.table.column("uid")[-1].as_py() == "KDDTrain+_20Percent.txt:25192"
    assert "difficulty" not in lt.table.column_names


def test_nsl_kdd_42_columns_and_header_variants(tmp_path: Path) -> None:
    no_difficulty = tmp_path / "KDDTest-21.txt"
    no_difficulty.write_bytes(NSL_ROW.replace(b",21\r\n", b"\n") * 2)
    lt = load_dataset(no_difficulty)
    assert lt.num_rows == 2 and lt.labels() == ["benign", "benign"]
    from swarmguard.acquire.datasets.nsl_kdd import FEATURES

    header = ",".join((*FEATURES, "class", "difficulty")).encode() + b"\n"
    with_header = tmp_path / "kdd.csv"
    with_header.write_bytes(header + NSL_ROW.replace(b"normal", b"apache2"))
    assert detect_format(with_header) == "nsl-kdd"
    lt = load_dataset(with_header)
    assert lt.labels() == ["dos"] and lt.table.column("uid").to_pylist() == ["kdd.csv:2"]


def test_unsw_sample_with_and_without_bom(unsw_file: Path, tmp_path: Path) -> None:
    bom = tmp_path / "UNSW_NB15_training-set.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + unsw_file.read_bytes())
    plain, with_bom = load_dataset(unsw_file), load_dataset(bom)
    for lt in (plain, with_bom):
        assert lt.format == "unsw-nb15" and lt.num_rows == 3_025
        assert Counter(lt.original_labels())["Normal"] == 1_348
        assert "unknown_attack" not in lt.labels()
        assert lt.categorical_columns == ("proto", "service", "state")
        assert not set(lt.numeric_columns) & set(UNSW_EXCLUDED)
    assert plain.table.column("dur").equals(with_bom.table.column("dur"))
    assert detect_format(bom) == "unsw-nb15"


def test_unsw_raw_files(tmp_path: Path) -> None:
    row = (
        "59.166.0.0,1390,149.171.126.6,53,udp,CON,0.001055,132,164,31,29,0,0,dns,500473.9,"
        "621800.9,2,2,0,0,0,0,66,82,0,0,0,0,1421927414,1421927414,0.017,0.013,0,0,0,0,0,0,"
        "0,0,3,7,1,3,1,1,1,{cat},{label}\n"
    )
    raw = tmp_path / "UNSW-NB15_1.csv"
    raw.write_text(
        row.format(cat="", label=0)
        + row.format(cat=" Backdoors ", label=1).replace(",53,", ",0x000b,")
        + row.format(cat="Fuzzers", label=1).replace(",0,0,3,7", ", ,,3,7")
    )
    assert detect_format(raw) == "unsw-nb15"
    lt = load_dataset(raw)
    assert lt.labels() == ["benign", "backdoor", "fuzzing"]
    assert lt.original_labels() == ["Normal", "Backdoors", "Fuzzers"]
    assert lt.table.column("dest_port").to_pylist() == [53, 11, 53]
    assert lt.table.column("ts")[0].as_py().year == 2015
    assert lt.table.column("rate").null_count == 3
    assert lt.table.column("ct_ftp_cmd").to_pylist()[2] is None
    partition = load_dataset(
        Path(__file__).parents[3].parent / "shared/datasets/unsw-nb15/UNSW_NB15_sample.csv"
    )
    assert lt.numeric_columns == partition.numeric_columns


def test_cic_directory(datasets_dir: Path) -> None:
    folder = datasets_dir / "cic-ids2017"
    files = sorted(folder.glob("*.csv"))
    assert len(files) == 16  # the "18 files" of the README count its two README.md files
    for f in files:
        assert detect_format(f) == "cic-ids2017", f
    assert detect_format(folder) == "cic-ids2017"
    seen: list[int] = []
    lt = load_dataset(folder, progress=seen.append)
    assert lt.num_rows == 25_127 and len(lt.sources) == len(files)
    assert seen == sorted(seen) and seen[-1] == sum(f.stat().st_size for f in files)
    labels = Counter(lt.labels())
    assert "unknown_attack" not in labels
    assert labels["benign"] == 2_500 and labels["brute_force"] == 5_000
    assert labels["web_attack"] == 73 + 13 + 18
    _no_feature_overlap(lt.numeric_columns)
    assert not set(lt.numeric_columns) & set(CIC_EXCLUDED)
    assert {"Dst Port", "Protocol", "Flow Duration"} <= set(lt.numeric_columns)
    assert lt.table.column("ts").null_count == 0
    assert set(lt.table.column("proto").unique().to_pylist()) <= {"TCP", "UDP", "ICMP", None}
    uids = lt.table.column("uid")
    assert pc.count_distinct(uids).as_py() == lt.num_rows


def test_cic_original_vocabulary(datasets_dir: Path) -> None:
    original = load_dataset(GOLDEN / "cic-ids2017-original.csv")
    improved = load_dataset(datasets_dir / "cic-ids2017" / "BENIGN_2500.csv")
    assert original.format == "cic-ids2017"
    assert original.numeric_columns == improved.numeric_columns
    assert original.original_labels() == [
        "BENIGN",
        "Web Attack \u2013 Brute Force",
        "Bot",
        "PortScan",
    ]
    assert original.labels() == ["benign", "web_attack", "botnet", "probe"]
    rate = original.table.column("Flow Bytes/s").to_pylist()
    assert rate[2] is None and rate[3] is None  # NaN and Infinity read as null
    assert original.table.column("Flow Packets/s")[3].as_py() is None
    assert original.table.column("Fwd RST Flags").null_count == 4  # not in the original files
    first = improved.table.slice(0, 1).to_pylist()[0]
    row = original.table.slice(0, 1).to_pylist()[0]
    for name in ("Dst Port", "Total Fwd Packet", "FWD Init Win Bytes", "Packet Length Max"):
        assert row[name] == first[name], name
    assert "Fwd Header Length (duplicate)" not in original.table.column_names
    assert original.table.column("dest_port").to_pylist()[0] == first["Dst Port"]


def test_directory_must_agree(nsl_file: Path, unsw_file: Path, tmp_path: Path) -> None:
    shutil.copy(nsl_file, tmp_path / "a.txt")
    shutil.copy(unsw_file, tmp_path / "b.csv")
    with pytest.raises(InputError) as err:
        detect_format(tmp_path)
    assert "b.csv" in str(err.value) and "mixed" in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        load_dataset(tmp_path / "missing_dir_is_not_there")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="no .csv"):
        load_dataset(tmp_path / "empty_dir")


def test_sandbox_output_folder_stands_for_its_dataset(datasets_dir: Path, tmp_path: Path) -> None:
    src = sorted((datasets_dir / "cic-ids2017").glob("*.csv"))[0]
    out = tmp_path / "out"
    (out / "runs" / "k1").mkdir(parents=True)
    (out / "runs" / "k1" / "flows.csv").write_text("not,the,dataset\n")
    (out / "report.json").write_text("{}\n")
    (out / "dataset").mkdir()
    shutil.copy(src, out / "dataset" / "scan-abababababab.csv")
    assert detect_format(out) == "cic-ids2017"
    assert load_dataset(out).num_rows == load_dataset(src).num_rows
    (tmp_path / "own.csv").mkdir()  # a folder with data files of its own is itself
    shutil.copy(src, tmp_path / "top.csv")
    assert len(load_dataset(tmp_path).sources) == 1


def test_ignores_feature_list(datasets_dir: Path) -> None:
    lt = load_dataset(datasets_dir / "unsw-nb15")
    assert lt.num_rows == 3_025


def test_bad_format_name(nsl_file: Path) -> None:
    assert DATASET_FORMATS == ("nsl-kdd", "unsw-nb15", "cic-ids2017")
    with pytest.raises(ValueError, match="unknown dataset format"):
        load_dataset(nsl_file, "kdd")


# --- bad input -----------------------------------------------------------------------------


def _unsw_lines(unsw_file: Path, n: int) -> list[bytes]:
    return unsw_file.read_bytes().split(b"\n")[:n]


def test_wrong_column_count(unsw_file: Path, tmp_path: Path) -> None:
    lines = _unsw_lines(unsw_file, 6)
    lines[3] = b",".join(lines[3].split(b",")[:10])
    bad = tmp_path / "u.csv"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError) as err:
        load_dataset(bad)
    assert err.value.line == 4 and err.value.path == str(bad)
    assert "wrong number of columns: 10, expected 45" in str(err.value)
    log = SkipLog()
    lt = load_dataset(bad, skip_bad=True, skip_log=log)
    assert lt.num_rows == 4 and lt.skipped_rows == 1 and log.count == 1
    assert f"{bad}: 1 (first at line 4: wrong number of columns" in log.summary()
    assert "u.csv:4" not in lt.table.column("uid").to_pylist()
    assert lt.table.column("uid").to_pylist()[-1] == "u.csv:6"


def test_non_numeric_value(nsl_file: Path, tmp_path: Path) -> None:
    lines = nsl_file.read_bytes().split(b"\r\n")[:8]
    lines[6] = lines[6].replace(b"0,tcp", b"zero,tcp", 1)
    lines[2] = lines[2].replace(b",0.00,", b",1..5,", 1)
    bad = tmp_path / "KDDTest+.txt"
    bad.write_bytes(b"\r\n".join(lines) + b"\r\n")
    with pytest.raises(InputError) as err:
        load_dataset(bad, "nsl-kdd")
    assert err.value.line == 3 and "not a number" in str(err.value)
    log = SkipLog()
    lt = load_dataset(bad, "nsl-kdd", skip_bad=True, skip_log=log)
    assert lt.num_rows == 6 and lt.skipped_rows == 2 and log.count == 2


def test_blank_lines_keep_line_numbers(nsl_file: Path, tmp_path: Path) -> None:
    lines = nsl_file.read_bytes().split(b"\r\n")[:4]
    f = tmp_path / "KDDTrain+.txt"
    f.write_bytes(b"\r\n" + lines[0] + b"\r\n\r\n" + lines[1] + b"\r\n" + lines[2])
    lt = load_dataset(f)
    assert lt.table.column("uid").to_pylist() == [
        "KDDTrain+.txt:2",
        "KDDTrain+.txt:4",
        "KDDTrain+.txt:5",
    ]


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "empty.csv"
    f.write_bytes(content)
    with pytest.raises(InputError, match="empty file") as err:
        load_dataset(f)
    assert err.value.line == 1
    with pytest.raises(InputError, match="empty file"):
        load_dataset(f, "cic-ids2017", skip_bad=True)


def test_header_only(unsw_file: Path, tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_bytes(_unsw_lines(unsw_file, 1)[0] + b"\n")
    with pytest.raises(InputError, match="no data rows") as err:
        load_dataset(f)
    assert err.value.line == 2


def test_binary_garbage(tmp_path: Path) -> None:
    f = tmp_path / "garbage.csv"
    f.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="binary data") as err:
        load_dataset(f)
    assert err.value.line == 1
    g = tmp_path / "latin.csv"
    g.write_bytes(b"\xff\xfe\x96\x80garbage,\xe9\xe8\n1,2\n")
    with pytest.raises(InputError, match="not a UTF-8") as err:
        load_dataset(g, "cic-ids2017")
    assert err.value.line == 1


def test_undecodable_text_cell(unsw_file: Path, tmp_path: Path) -> None:
    lines = _unsw_lines(unsw_file, 5)
    lines[4] = lines[4].replace(b",udp,", b",\xff\xfe,", 1).replace(b",tcp,", b",\xff\xfe,", 1)
    f = tmp_path / "u.csv"
    f.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match="not text") as err:
        load_dataset(f)
    assert err.value.line == 5
    assert load_dataset(f, skip_bad=True).num_rows == 3


def test_cp1252_only_for_labels(tmp_path: Path) -> None:
    data = (GOLDEN / "cic-ids2017-original.csv").read_bytes()
    f = tmp_path / "x.csv"
    lines = data.split(b"\r\n")
    lines[4] = lines[4].replace(b"PortScan", b"Port\x01Scan")
    f.write_bytes(b"\r\n".join(lines))
    with pytest.raises(InputError, match="not text") as err:
        load_dataset(f)
    assert err.value.line == 5


def test_unknown_attack_label(
    nsl_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "KDDTest+.txt"
    f.write_bytes(NSL_ROW + NSL_ROW.replace(b"normal", b"zeroday") * 3)
    with caplog.at_level(logging.WARNING):
        lt = load_dataset(f)
    assert lt.labels() == ["benign"] + ["unknown_attack"] * 3
    assert lt.original_labels()[1] == "zeroday"
    assert "3 row(s)" in caplog.text and "zeroday" in caplog.text
    assert AttackClass("unknown_attack").is_attack
