"""The console's agents and accounts, for the root app's tests too (the API document)."""

from tests.gateway.web.console.conftest import console, console_settings  # noqa: F401  (fixtures re-exported)
