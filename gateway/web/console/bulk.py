"""Bulk actions on the queue: claim, assign or merge several tickets at once.

Each ticket goes through the same action as its single button (``actions.claim``, ``assign``,
``merge``): its own transaction, under its row lock, with the same checks and live notices.
One refusal does not undo the others; the caller gets one result per ticket, in Chinese.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.web.audiences import Config
from gateway.web.console import actions
from ticketing.accounts.roles import Actor
from ticketing.errors import ConsoleError, IllegalTransition

log = logging.getLogger(__name__)

ACTIONS = ("claim", "assign", "merge")
ACTION_NAMES = {"claim": "认领", "assign": "分派", "merge": "合并"}


@dataclass(frozen=True)
class BulkResult:
    number: str
    ok: bool
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"number": self.number, "ok": self.ok, "code": self.code, "message": self.message}


def _numbers(raw: Sequence[str]) -> list[str]:
    """Upper-cased, blanks and repeats dropped, in the order given."""
    seen: dict[str, None] = {}
    for number in raw:
        number = (number or "").strip().upper()
        if number:
            seen.setdefault(number, None)
    return list(seen)


def _check(action: str, actor: Actor, numbers: list[str], into: str | None) -> str | None:
    """Refusals that concern the whole request (nothing is done); the main ticket of a merge."""
    if action not in ACTIONS:
        raise ConsoleError(400, "invalid_action", "不支持的批量操作")
    if not numbers:
        raise ConsoleError(400, "no_tickets", "请至少选择一件工单")
    if action == "assign" and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以改派工单")
    if action != "merge":
        return None
    main = (into or "").strip().upper()
    if not main:
        raise ConsoleError(400, "into_required", "请在所选工单中选择主工单")
    if main not in numbers:
        raise ConsoleError(400, "into_not_selected", f"主工单 {main} 不在所选工单中")
    if len(numbers) < 2:
        raise ConsoleError(400, "nothing_to_merge", "合并至少需要选择两件工单")
    return main


async def run(config: Config, actor: Actor, action: str, raw_numbers: Sequence[str], *,
              username: str | None = None, into: str | None = None) -> list[BulkResult]:
    numbers = _numbers(raw_numbers)
    main = _check(action, actor, numbers, into)
    results: list[BulkResult] = []
    for number in numbers:
        if number == main:
            results.append(BulkResult(number, True, "主工单，其余工单合并到此"))
            continue
        try:
            if action == "claim":
                await actions.claim(config, actor, number)
                message = "已认领"
            elif action == "assign":
                await actions.assign(config, actor, number, username or None)
                message = f"已分派给 {username}" if username else "已退回公共队列"
            else:
                await actions.merge(config, actor, number, main)
                message = f"已合并到 {main}"
        except ConsoleError as exc:
            results.append(BulkResult(number, False, exc.message, exc.code))
        except IllegalTransition as exc:
            results.append(BulkResult(number, False, str(exc), "illegal_transition"))
        except Exception:  # one ticket's fault must not hide what happened to the others
            log.exception("bulk %s of %s failed", action, number)
            results.append(BulkResult(number, False, "处理时出错，请稍后重试", "internal_error"))
        else:
            results.append(BulkResult(number, True, message))
    return results


def summary_text(action: str, results: Sequence[BulkResult]) -> tuple[str, str | None]:
    """The console page's two messages: what succeeded, and (if any) what failed and why."""
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    ok_text = f"批量{ACTION_NAMES.get(action, '')}：成功 {len(done)} 件，失败 {len(failed)} 件"
    if not failed:
        return ok_text, None
    return ok_text, "未成功：" + "；".join(f"{r.number}（{r.message}）" for r in failed)
