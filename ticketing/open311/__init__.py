"""Open311 GeoReport v2 on the ticket store: the apps' API keys (:mod:`keys`), our departments as
services and tickets as public service requests (:mod:`public`).  No HTTP here: the gateway's
``/open311/v2/`` sub-app renders these as JSON or XML."""
