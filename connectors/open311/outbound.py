"""Why the Open311 channel has no reply side.

An app that filed a request follows it by polling ``requests/{id}.json``: its ``status`` and
``status_notes`` (the ticket's status in Chinese) are the public answer.  An operator's written
reply is not published there — it may name the citizen or the place of their home — so a reply
to an Open311 ticket stays on the ticket as "pending" (the console says the channel cannot carry
it) and the operator calls or mails the citizen when the app passed a phone number or address.
"""

from __future__ import annotations

OUTPUT = None
