"""Mobile numbers citizens write into their messages."""

from ticketing.intake.contact_details import phone_in_text


def test_a_mobile_number_is_found_however_it_is_written():
    assert phone_in_text("我的电话是13900001111，谢谢") == "13900001111"
    assert phone_in_text("联系 139-0000-2222 或 139 0000 3333") == "13900002222"
    assert phone_in_text("请打 139 0000 3333") == "13900003333"


def test_other_numbers_are_not_a_phone():
    for text in ("工单 PDS2026030200001 怎么样了", "身份证 410402199001011234", "楼号 12号", "1390000111"):
        assert phone_in_text(text) is None
