"""The hostile suite replays each attack and fault of issue #12 against the real app, on both backends.

Each module is one area (live updates, the worker under outages, the mailbox, forwarding headers,
malformed input …); the gateway fixtures are the same as the functional tests'.
"""

from tests.gateway.conftest import client, eventually, make_client  # noqa: F401  (fixtures re-exported)
