"""The ``hotline`` command: each process of the production topology, runnable alone.

    hotline run              everything in one launcher (embedded Redis/SQLite, Rasa child)
    hotline web              the HTTP gateway (add --with-worker to also consume the stream)
    hotline worker           a stream consumer (run N of them in one consumer group)
    hotline smtp             the mayor's mailbox SMTP server
    hotline feed             the national platform feed poller
    hotline simulate national-feed   a local stand-in of the platform (tests, demos)
    hotline db upgrade       apply the migrations
    hotline nlu train|eval|activate MODEL
    hotline check            validate settings and the directory, then exit
    hotline user add NAME --role R [--unit U] [--password P]   an account (prompts without --password);
                                   roles: operator dispatcher callback supervisor admin handler (--unit) leader
    hotline open311 key add|revoke NAME, hotline open311 key list   third-party apps' Open311 API keys
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable

from config.directory import DirectoryError, load_directory
from config.holidays import HolidayError, load_holiday_override
from config.settings import Settings, SettingsError, load_settings
from gateway.runtime.collector import WEB_THRESHOLDS, tune_for_service
from ticketing.accounts.roles import ROLES

log = logging.getLogger("hotline")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for ``hotline web`` and ``hotline worker`` (a faster event loop, the same asyncio API), unless
    ``HOTLINE_UVLOOP=0`` or it is not installed."""
    if os.environ.get("HOTLINE_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _load() -> Settings:
    try:
        settings = load_settings()
        load_directory()
        # A broken override would otherwise fail every message in the worker until it is dead-lettered.
        load_holiday_override()
    except (SettingsError, DirectoryError, HolidayError) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _redis_url(settings: Settings):
    """The Redis URL, starting the embedded server when none is configured."""
    if settings.redis_url:
        return settings.redis_url, None
    from gateway.infra.redis_client import EmbeddedRedis

    embedded = EmbeddedRedis(settings.embedded_redis_path)
    return embedded.url, embedded


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from ticketing.db.migrate import upgrade

    settings = _load()
    upgrade(settings.effective_database_url)
    print(f"database at head: {settings.effective_database_url.split('@')[-1]}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from aiohttp import web

    from gateway.runtime.assembly import create_app

    settings = _load()
    redis_url, embedded = _redis_url(settings)
    try:
        if args.migrate:
            from ticketing.db.migrate import upgrade

            upgrade(settings.effective_database_url)
        app = create_app(settings, redis_url=redis_url, run_worker=args.with_worker)
        tune_for_service(WEB_THRESHOLDS)
        factory = _loop_factory()
        web.run_app(app, host=args.host or settings.http_host, port=args.port or settings.http_port,
                    print=lambda s: log.info(s.strip()), access_log=None, loop=factory() if factory else None)
    finally:
        if embedded:
            embedded.shutdown()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.consumer:
        os.environ["HOTLINE_CONSUMER"] = args.consumer
    return _run_services({"worker"})


def _run_services(services: set[str]) -> int:
    from gateway.runtime.assembly import create_service_app
    from gateway.runtime.standalone import run_services

    settings = _load()
    redis_url, embedded = _redis_url(settings)
    try:
        # uvloop for the worker only: the mailbox keeps asyncio's loop (aiosmtpd's server object
        # carries attributes a uvloop server refuses).
        factory = _loop_factory() if services <= {"worker"} else None
        app = create_service_app(settings, redis_url=redis_url, services=services)
        tune_for_service()
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(run_services(app))
    except KeyboardInterrupt:
        pass
    finally:
        if embedded:
            embedded.shutdown()
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    return _run_services({"feed"})


def cmd_smtp(args: argparse.Namespace) -> int:
    return _run_services({"smtp"})


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.target == "national-feed":
        from connectors.national_feed.simulator import main as simulator_main

        return simulator_main(args.rest)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.runtime.launcher import launch

    settings = _load()
    return launch(settings, start_rasa=not args.no_rasa)


def cmd_check(args: argparse.Namespace) -> int:
    settings = _load()
    directory = load_directory()
    print(f"settings ok (data dir {settings.data_dir}); directory ok: {len(directory.departments)} departments, "
          f"{len(directory.regions)} regions")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from gateway.runtime.bootstrap import add_user

    settings = _load()
    return add_user(settings.effective_database_url, args.name, args.role, args.password, args.display_name,
                    args.unit)


def cmd_open311_key(args: argparse.Namespace) -> int:
    from gateway.runtime import open311_keys

    url = _load().effective_database_url
    if args.key_command == "add":
        return open311_keys.add_key(url, args.name)
    if args.key_command == "revoke":
        return open311_keys.revoke_key(url, args.name)
    return open311_keys.list_keys(url)


def cmd_nlu(args: argparse.Namespace) -> int:
    from nlu import cli as nlu_cli

    settings = _load()
    if args.nlu_command == "train":
        return nlu_cli.cmd_train(args)
    if args.nlu_command == "eval":
        if not getattr(args, "url", None):
            args.url = settings.rasa_url
        return nlu_cli.cmd_eval(args)
    if args.nlu_command == "activate":
        url = args.url or settings.rasa_url or "http://127.0.0.1:5005"
        if settings.redis_url:
            return asyncio.run(_activate_in_swap_window(settings, args.model, url))
        return nlu_cli.cmd_activate(args.model, url)
    return 2


async def _activate_in_swap_window(settings: Settings, model: str, url: str) -> int:
    """`PUT /model` blocks Rasa for seconds: open the swap window every gateway process follows,
    so their parses wait for the new model instead of timing out."""
    import redis.asyncio as aioredis

    from gateway.web.admin.state import FOLLOW_INTERVAL, NluAdminKeys, swap_window
    from nlu import cli as nlu_cli

    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        async with swap_window(redis, NluAdminKeys(settings.redis_prefix),
                               drain=FOLLOW_INTERVAL * 2 + settings.nlu_timeout + 1):
            return await asyncio.to_thread(nlu_cli.cmd_activate, model, url)
    finally:
        await redis.aclose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Pingdingshan 12345 intake gateway")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start everything (embedded defaults)")
    p.add_argument("--no-rasa", action="store_true", help="do not start the NLU server")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("web", help="serve the HTTP gateway")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--with-worker", action="store_true", help="also consume the intake stream")
    p.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("worker", help="consume the intake stream")
    p.add_argument("--consumer", help="consumer name in the group (default host-pid)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("smtp", help="serve the mayor's mailbox over SMTP (HOTLINE_SMTP_PORT)")
    p.set_defaults(func=cmd_smtp)

    p = sub.add_parser("feed", help="poll the national platform feed (NATIONAL_FEED_URL)")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("simulate", help="serve a local simulator of an outside service")
    p.add_argument("target", choices=["national-feed"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options (--port, --items …)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("check", help="validate settings and the directory")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("user", help="console accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="create a platform (operator, dispatcher, callback, supervisor, admin) "
                                     "or unit (handler --unit CODE) account")
    ua.add_argument("name", help="user name (lower-case letters, digits, . _ -)")
    ua.add_argument("--role", required=True, choices=list(ROLES))
    ua.add_argument("--unit", help="a handler's unit: a department or remote-seat county code from directory.yaml")
    ua.add_argument("--password", help="initial password (prompted for when omitted)")
    ua.add_argument("--display-name", help="name shown in the console (default: the user name)")
    ua.set_defaults(func=cmd_user_add)

    p = sub.add_parser("open311", help="Open311 GeoReport v2: API keys of third-party city apps")
    osub = p.add_subparsers(dest="open311_command", required=True)
    ok = osub.add_parser("key", help="issue, list or revoke an app's API key")
    ksub = ok.add_subparsers(dest="key_command", required=True)
    for action, text in (("add", "issue a key (printed once, stored hashed)"), ("revoke", "revoke an app's key")):
        ka = ksub.add_parser(action, help=text)
        ka.add_argument("name", help="the app's name (lower-case letters, digits, . _ -)")
        ka.set_defaults(func=cmd_open311_key)
    ksub.add_parser("list", help="the apps and their keys' state").set_defaults(func=cmd_open311_key)

    p = sub.add_parser("nlu", help="train, evaluate and activate NLU models")
    nsub = p.add_subparsers(dest="nlu_command", required=True)
    t = nsub.add_parser("train", help="train a model for the current data (cached by data hash)")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=cmd_nlu)
    e = nsub.add_parser("eval", help="evaluate on the held-out set")
    e.add_argument("--url", help="a running Rasa server (default: start one)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.add_argument("--verbose", action="store_true", help="list every misclassified message")
    e.add_argument("--no-compare", action="store_true", help="do not measure the model trained before for comparison")
    e.add_argument("--previous", help="compare with this model instead of the one trained before")
    e.add_argument("--dev", action="store_true", help="measure the dev split (nlu/dev/) to set thresholds instead")
    e.set_defaults(func=cmd_nlu)
    a = nsub.add_parser("activate", help="hot-swap the model of a running Rasa server")
    a.add_argument("model")
    a.add_argument("--url")
    a.set_defaults(func=cmd_nlu)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose or os.environ.get("HOTLINE_DEBUG") == "1")
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
