from pathlib import Path

import pytest
import yaml

from config.directory import DEFAULT_PATH, DirectoryError, load_directory

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "directory.md"


def test_directory_has_every_code_of_the_reference():
    directory = load_directory()
    assert directory.department_codes == {
        "commerce", "agriculture", "culture_tourism", "urban_management", "natural_resources",
        "emergency_management", "market_supervision", "transport", "human_resources", "ecology_environment",
        "justice", "housing_construction", "education", "health", "public_security", "civil_affairs", "utilities",
    }
    assert {h.code: h.hotline for h in directory.non_integrated_hotlines} == {
        "weather": "12121", "tax": "12366", "housing_fund": "12329"}
    assert {e.number: e.kind for e in directory.emergency_numbers} == {
        "110": "police", "119": "fire", "120": "medical", "122": "traffic"}
    assert directory.region_codes == {"xinhua", "weidong", "zhanhe", "shifanqu", "gaoxin", "ruzhou", "wugang",
                              "baofeng", "jiaxian", "lushan", "yexian", "shilong"}
    assert directory.request_type_codes == {"consult", "complaint", "report", "help", "suggestion", "praise"}
    assert directory.channel_codes == {"wechat", "web", "email", "national_platform", "phone", "letter", "open311"}
    assert "郟县" in directory.region("jiaxian").aliases
    assert directory.department("market_supervision").hotline == "12315"


# Channels this project adds beyond the city's reference table: Open311 (third-party city apps) is ours,
# not one of the city's intake channels. Any other code missing from the reference still fails.
PROJECT_CHANNELS = frozenset({"open311"})


@pytest.mark.skipif(not SHARED.exists(), reason="shared/ reference not beside the checkout")
def test_codes_match_the_shared_reference_table():
    text = SHARED.read_text(encoding="utf-8")
    directory = load_directory()
    codes = directory.department_codes | directory.region_codes | directory.request_type_codes | directory.channel_codes
    for code in codes - PROJECT_CHANNELS:
        assert f"| {code} |" in text, code
    for code in PROJECT_CHANNELS:
        assert code in directory.channel_codes and f"| {code} |" not in text, code


def _write(tmp_path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_unknown_key_names_the_entry(tmp_path):
    path = _write(tmp_path, lambda d: d["departments"][3].update({"colour": "red"}))
    with pytest.raises(DirectoryError, match=r"departments\[urban_management\]\.colour"):
        load_directory(path)


def test_duplicate_code_is_refused(tmp_path):
    path = _write(tmp_path, lambda d: d["regions"].append(dict(d["regions"][0], aliases=[])))
    with pytest.raises(DirectoryError, match="duplicate code 'xinhua'"):
        load_directory(path)


def test_missing_name_names_the_entry(tmp_path):
    path = _write(tmp_path, lambda d: d["departments"][0].pop("name"))
    with pytest.raises(DirectoryError, match=r"departments\[commerce\]\.name"):
        load_directory(path)


def test_an_emergency_number_names_a_known_department(tmp_path):
    assert {e.kind: e.department for e in load_directory().emergency_numbers} == {
        "police": "public_security", "fire": "emergency_management", "medical": "health", "traffic": "public_security"}
    path = _write(tmp_path, lambda d: d["emergency_numbers"][0].update({"department": "fire_brigade"}))
    with pytest.raises(DirectoryError, match="unknown department 'fire_brigade'"):
        load_directory(path)


def test_alias_shared_by_two_regions_is_refused(tmp_path):
    path = _write(tmp_path, lambda d: d["regions"][1]["aliases"].append("新华"))
    with pytest.raises(DirectoryError, match="alias '新华'"):
        load_directory(path)
