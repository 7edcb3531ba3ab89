"""Request bodies of the admin JSON API (validated with these classes, documented with them)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, StrictInt

from gateway.web.validation import RequestModel

Refusals = ClassVar[dict[str, tuple[int, str, str]]]


class NewIntent(RequestModel):
    """A new intent (a new FAQ topic ``faq/<key>`` needs its answer)."""

    name: str | None = None
    examples: list[str] = []
    answer: str | None = None
    refusals: Refusals = {"examples": (400, "invalid_body", "examples 必须是列表")}


class NewExamples(RequestModel):
    intent: str = ""
    texts: list[str] | None = None
    text: str | None = Field(None, description="只添加一条时可用 text 代替 texts")
    refusals: Refusals = {"texts": (400, "invalid_body", "texts 必须是列表")}

    def all_texts(self) -> list[str] | None:
        return [self.text] if self.text is not None else self.texts


class ExampleEdit(RequestModel):
    text: str | None = None


class AnswerEdit(RequestModel):
    key: str = ""
    text: str | None = None


class YamlFile(RequestModel):
    name: str | None = None
    text: str = ""


class YamlImport(RequestModel):
    """JSON form of the import (multipart: files in ``files``, ``replace`` as a field)."""

    files: list[YamlFile] = Field(min_length=1)
    replace: bool = Field(False, description="替换同名意图的全部例句（默认追加）")
    refusals: Refusals = {"files": (400, "invalid_body", "files 必须是非空列表：[{name, text}]")}


class Decision(RequestModel):
    id: int
    action: Literal["accept", "reject"] | str = Field(description="accept 或 reject")
    text: str | None = Field(None, description="采纳前修改的文本")
    intent: str | None = Field(None, description="采纳前修改的意图")


class SuggestionReview(RequestModel):
    decisions: list[Decision] = Field(min_length=1)
    refusals: Refusals = {"decisions": (400, "invalid_body", "decisions 必须是非空列表：[{id, action, text?, intent?}]")}


class ConsoleSuggestionReview(RequestModel):
    status: Literal["accepted", "rejected"]
    refusals: Refusals = {"status": (400, "invalid_status", "状态只能是 accepted 或 rejected")}


class TrainRequest(RequestModel):
    epochs: StrictInt | None = Field(None, ge=1, le=500, description="按轮训练的组件的训练轮数（默认使用配置；当前流水线没有按轮训练的组件）")
    refusals: Refusals = {"epochs": (400, "invalid_epochs", "epochs 须为 1–500 的整数")}


class Activation(RequestModel):
    override_reason: str | None = Field(None, description="未通过启用检查时必填（记入审计日志）")
    refusals: Refusals = {"override_reason": (400, "invalid_body", "override_reason 必须是文本")}
