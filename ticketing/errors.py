


"""Domain errors of the ticket store; the web layer maps them to HTTP statuses."""


class TicketingError(Exception):
    code = "ticketing_error"


class IllegalTransition(TicketingError):
    """The ticket's status does not allow this action (HTTP 409)."""

    code = "illegal_transition"

    def __init__(self, number: str, status: str, action: str) -> None:
        super().__init__(f"工单 {number} 当前状态为「{status}」，不能执行「{action}」")
        self.number, self.status, self.action = number, status, action


class TicketNotFound(TicketingError):
    code = "ticket_not_found"


class DuplicateMessage(TicketingError):
    """The (channel, channel message id) pair is already stored."""

    code = "duplicate_message"


class WorkspaceError(TicketingError):
    """A refused change; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ConsoleError(TicketingError):
    """A refused console action; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
