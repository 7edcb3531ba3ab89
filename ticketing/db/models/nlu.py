"""The admins' NLU working copy (intents, examples, answers, resources), the model registry,
training jobs, and the training suggestions operators' corrections leave behind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, BigId, utcnow

# --------------------------------------------------------------------------- models

class NluIntent(Base):
    __tablename__ = "nlu_intents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class NluExample(Base):
    __tablename__ = "nlu_examples"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("nlu_intents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # seed | admin | import | suggestion
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class NluAnswer(Base):
    """An answer text by key (`faq/<key>`, `hotline_*`, `greet`, ...); placeholders kept as written."""

    __tablename__ = "nlu_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class NluResource(Base):
    """Training data that is not an intent: a regex, a lookup table or a synonym (one block)."""

    __tablename__ = "nlu_resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class NluModel(Base):
    """The model registry: every model trained from the working copy (and the one it started with)."""

    __tablename__ = "nlu_models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(128))  # the model file name without .tar.gz
    data_hash: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    epochs: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # trained | evaluated | active | retired | eval_failed
    trained_by: Mapped[str] = mapped_column(String(100))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    activated_at: Mapped[datetime | None] = mapped_column()
    activated_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class NluTrainingJob(Base):
    __tablename__ = "nlu_training_jobs"
    __table_args__ = (Index("ix_nlu_training_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | cancelled
    phase: Mapped[str] = mapped_column(String(64), default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    data_hash: Mapped[str | None] = mapped_column(String(64))
    epochs: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id"))


class TrainingSuggestion(Base):
    """An operator's correction of the bot: a labelled example for the admins' next training."""

    __tablename__ = "training_suggestions"
    __table_args__ = (Index("ix_training_suggestions_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    field: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(64))
    chosen: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column()
