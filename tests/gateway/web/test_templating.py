"""The pages' one Jinja2 environment: the survey-link filter escapes everything it does not link."""

from __future__ import annotations

from gateway.web.templating import survey_links


def test_only_the_survey_link_becomes_markup():
    text = "<b>已办结</b> 请评价：https://12345.pds.gov.cn/survey/12.AbC-_x= （15天内有效）<script>x</script>"
    html = str(survey_links(text))
    assert html.startswith("&lt;b&gt;已办结&lt;/b&gt;")
    assert ('<a href="https://12345.pds.gov.cn/survey/12.AbC-_x=" rel="noopener">'
            "https://12345.pds.gov.cn/survey/12.AbC-_x=</a>") in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_other_links_stay_text():
    html = str(survey_links('看 https://evil.example/phish 和 javascript:alert(1) "/survey/1.x"'))
    assert "<a" not in html and "&#34;/survey/1.x&#34;" in html
