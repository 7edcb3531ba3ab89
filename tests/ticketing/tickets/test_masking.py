from ticketing.tickets import masking


def test_masks():
    assert masking.mask_phone("13837512345") == "138****2345"
    assert masking.mask_phone("0375-2345678") == "037*****5678"
    assert masking.mask_phone(None) is None
    assert masking.mask_email("zhang@example.cn") == "z***@example.cn"
    assert masking.mask_openid("oABCDEFGHIJKLMN123") == "oABC…N123"


def test_contacts_inside_free_text_are_masked_but_ticket_numbers_and_dates_are_not():
    from ticketing.tickets.masking import mask_contacts_in_text

    text = ("电话13837512345或+86 138 3751 2345，座机0375-2661234，邮箱 zhang.san@example.com，"
            "工单PDS2026113000001，2026年11月30日，3户")
    masked = mask_contacts_in_text(text)
    assert "3751" not in masked and "2661234" not in masked and "zhang.san" not in masked
    assert masked.count("138****2345") == 2 and "037****1234" in masked and "z***@example.com" in masked
    assert "PDS2026113000001" in masked and "2026年11月30日" in masked and "3户" in masked
    assert mask_contacts_in_text(None) is None and mask_contacts_in_text("") == ""
