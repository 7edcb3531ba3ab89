"""A failed training job's reason in Chinese, the raw text kept for the folded block."""

from __future__ import annotations

from gateway.web.admin.failures import GENERIC, explain


def test_the_redis_pool_limit_is_explained_in_chinese_with_the_raw_text_kept():
    raw = "redis.exceptions.ConnectionError: Too many connections"
    failure = explain(raw)
    assert failure is not None and "Redis 连接数已达上限" in failure.reason and failure.detail == raw


def test_rasa_exceptions_and_exit_codes_are_named():
    assert "训练配置无效" in explain("rasa.shared.exceptions.InvalidConfigException: The pipeline is broken").reason
    assert "内存不足" in explain("rasa train nlu 退出码 -9").reason
    other = explain("rasa train nlu 退出码 3：something odd")
    assert "退出码 3" in other.reason and other.detail == "rasa train nlu 退出码 3：something odd"


def test_the_runners_own_chinese_words_stand_and_unknown_errors_say_so():
    own = explain("管理员取消了训练")
    assert own.reason == "管理员取消了训练" and own.detail is None
    unknown = explain("ValueError: something unexpected")
    assert unknown.reason == GENERIC and unknown.detail == "ValueError: something unexpected"
    assert explain(None) is None and explain("") is None
