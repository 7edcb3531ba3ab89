""""""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover

    pass


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def intake(self) -> str:
        return f"{self.prefix}:intake"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:intake:dead"

    group = "workers"

    def reply(self, channel: str, native_id: str) -> str:
        return f"{self.prefix}:reply:{channel}:{native_id}"

    @property
    def reply_ready(self) -> str:
        return f"{self.prefix}:reply-ready"

    def web_session(self, session_id: str) -> str:
        return f"{self.prefix}:web:session:{session_id}"

    @property
    def console_events(self) -> str:
        return f"{self.prefix}:console:events"

    def rate(self, scope: str, client: str, window: int) -> str:
        return f"{self.prefix}:rate:{scope}:{client}:{window}"

    # NLU administration (gateway/web/admin): the model every process's NluClient follows, the
    # training lock, the answers' version (reload on change), a training job's cancel flag.
    @property
    def nlu_active(self) -> str:
        return f"{self.prefix}:nlu:active"

    @property
    def nlu_train_lock(self) -> str:
        return f"{self.prefix}:nlu:train-lock"

    @property
    def nlu_activate_lock(self) -> str:
        return f"{self.prefix}:nlu:activate-lock"

    @property
    def nlu_answers_version(self) -> str:
        return f"{self.prefix}:nlu:answers-version"

    def nlu_job_cancel(self, job_id: int) -> str:
        return f"{self.prefix}:nlu:job:{job_id}:cancel"

    def connector(self, name: str) -> str:
        """Prefix a connector may use for its own private keys."""
        return f"{self.prefix}:conn:{name}"
