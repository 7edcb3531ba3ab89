from gateway.web.faq_titles import faq_title


def test_shipped_answers_have_topic_titles():
    assert faq_title("faq/channels", "您可以通过以下渠道反映诉求：拨打12345") == "反映诉求的渠道"


def test_an_answer_added_later_is_titled_by_its_first_clause():
    assert faq_title("faq/parking_fees", "停车收费标准由市发展改革委核定，详见公示。") == "停车收费标准由市发展改革委核定"
    assert faq_title("faq/long", "一" * 30 + "。") == "一" * 18 + "…"
    assert faq_title("faq/empty", "  ") == "常见问题答复"
