from ticketing.tickets import masking


def test_masks():
    assert masking.mask_phone("13837512345") == "138****2345"
    assert masking.mask_phone("0375-2345678") == "037*****5678"
    assert masking.mask_phone(None) is None
    assert masking.mask_email("zhang@example.cn") == "z***@example.cn"
    assert masking.mask_openid("oABCDEFGHIJKLMN123") == "oABC…N123"
