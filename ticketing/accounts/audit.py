"""The audit log: who did what to accounts, contacts and models, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.base import utcnow

AUDIT_LABELS = {
    "reveal_contact": "查看完整联系方式",
    "override": "越权处理（班长接管）",
    "reassign": "改派工单",
    "user_created": "创建账号",
    "user_updated": "修改账号",
    "account_locked": "账号因多次登录失败被锁定",
    "login_inactive": "已停用账号尝试登录",
    "search_phone": "按电话号码搜索工单",
    "open311_key_issued": "签发 Open311 接口密钥",
    "open311_key_revoked": "吊销 Open311 接口密钥",
}


# --------------------------------------------------------------------------- audit

async def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    ticket_id: int | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    row = AuditLog(at=utcnow(), actor=actor, action=action, ticket_id=ticket_id, target=target, ip=ip,
                   detail=detail or {})
    session.add(row)
    return row


async def audit_entries(session: AsyncSession, *, action: str | None = None, actor: str | None = None,
                        ticket_id: int | None = None, limit: int = 200) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if ticket_id is not None:
        stmt = stmt.where(AuditLog.ticket_id == ticket_id)
    return list((await session.execute(stmt)).scalars())
