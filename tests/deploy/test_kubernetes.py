"""deploy/k8s rendered by kustomize (kubectl's built-in one) and every object validated against the
Kubernetes API schemas (kubernetes-validate); the names, ports, commands and settings they use are
checked against the real code: the CLI parser, the settings classes, the intake stream's key and
consumer group, the gateway's live-stream routes and body limit."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from config.settings import load_settings
from connectors.email.settings import EmailSettings
from gateway.infra.keys import RedisKeys
from gateway.infra.stream import CONSUMER_GROUP, IntakeStream
from gateway.runtime.cli import build_parser
from gateway.web.app import MAX_REQUEST_BYTES
from tests.deploy.routes import gateway_app, routes, sse_paths
from tests.deploy.test_compose import env_names, settings_classes

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("pingdingshan", "henan")
KUBERNETES_VERSION = "1.30.0"
# Not a gateway setting: the workers' container carries it for KEDA's redis-streams trigger.
KEDA_ONLY = {"REDIS_PASSWORD"}
DEPLOYMENTS = {"web", "worker", "smtp", "feed", "rasa"}


def kustomize(tmp_path: Path, overlay: str, *, components: tuple[str, ...] = ()) -> list[dict]:
    """Render an overlay the way an operator does: a copy of deploy/k8s with secrets.env filled in
    from the overlay's example (plus, optionally, components added to it)."""
    binary = shutil.which("kustomize") or shutil.which("kubectl")
    if binary is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    target = tree / "overlays" / overlay
    shutil.copy(target / "secrets.env.example", target / "secrets.env")
    if components:
        kustomization = yaml.safe_load((target / "kustomization.yaml").read_text())
        kustomization["components"] = [f"../../components/{name}" for name in components]
        (target / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    command = [binary, "build", str(target)] if binary.endswith("kustomize") else [binary, "kustomize", str(target)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, overlay) -> list[dict]:
    return kustomize(tmp_path_factory.mktemp("render"), overlay)


def one(docs: list[dict], kind: str, name: str) -> dict:
    (found,) = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"].startswith(name)
                and (doc["kind"] not in ("Secret", "ConfigMap") or re.fullmatch(rf"{name}(-\w+)?",
                                                                             doc["metadata"]["name"]))]
    return found


def containers(docs: list[dict]) -> list[tuple[str, dict]]:
    return [(doc["metadata"]["name"], container) for doc in docs if doc["kind"] in ("Deployment", "Job")
            for container in doc["spec"]["template"]["spec"]["containers"]]


def pod_environment(docs: list[dict]) -> dict[str, str]:
    """What envFrom gives a gateway pod: the ConfigMap, then the Secret (values from the example)."""
    (namespace,) = [doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace"]
    (overlay,) = [name for name in OVERLAYS
                  if f"namespace: {namespace}\n" in (K8S / "overlays" / name / "kustomization.yaml").read_text()]
    config = one(docs, "ConfigMap", "hotline-config")["data"]
    secret_name = one(docs, "Secret", "hotline-secrets")["metadata"]["name"]
    example = K8S / "overlays" / overlay / "secrets.env.example"
    secret = dict(line.split("=", 1) for line in example.read_text().splitlines() if line and line[0] != "#")
    for _, container in containers(docs):
        if container["image"].split("/")[-1].startswith("gateway"):
            refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
            assert refs == ["hotline-config", secret_name]
    return {**config, **secret}


def test_every_object_is_valid_for_the_kubernetes_api(rendered):
    kinds = {doc["kind"] for doc in rendered}
    assert {"Namespace", "ConfigMap", "Secret", "Service", "Deployment", "Job", "Ingress", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy", "PersistentVolumeClaim", "ScaledObject"} == kinds
    for doc in rendered:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a custom resource: no schema offline, checked field by field below
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises on any bad field


def test_every_piece_of_the_topology_is_there(rendered):
    (namespace,) = [doc["metadata"]["name"] for doc in rendered if doc["kind"] == "Namespace"]
    assert {doc["metadata"].get("namespace") for doc in rendered if doc["kind"] != "Namespace"} == {namespace}
    assert {doc["metadata"]["name"] for doc in rendered if doc["kind"] == "Deployment"} == DEPLOYMENTS
    assert one(rendered, "Deployment", "feed")["spec"]["replicas"] == 1
    assert one(rendered, "Deployment", "rasa")["spec"]["replicas"] >= 2
    budgets = {tuple(doc["spec"]["selector"]["matchLabels"].items()) for doc in rendered
               if doc["kind"] == "PodDisruptionBudget"}
    assert budgets == {(("app.kubernetes.io/name", name),) for name in DEPLOYMENTS}
    for owner, container in containers(rendered):
        requests = container["resources"]["requests"]
        assert requests["cpu"] and requests["memory"] and container["resources"]["limits"]["memory"], owner
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, owner
    for doc in rendered:
        if doc["kind"] in ("Deployment", "Job"):
            assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # The counts of autoscaled Deployments belong to their autoscalers alone.
    assert "replicas" not in one(rendered, "Deployment", "web")["spec"]
    assert "replicas" not in one(rendered, "Deployment", "worker")["spec"]


def test_every_command_is_a_real_subcommand_and_rasa_runs_as_in_compose(rendered):
    parser = build_parser()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for owner, container in containers(rendered):
        command = container["command"]
        if command[0] == "hotline":
            args = parser.parse_args(command[1:])
            assert args.func.__name__ == "cmd_" + "_".join(command[1:]), owner
            assert compose[owner.removeprefix("hotline-")]["command"] == command, owner
        else:
            assert command == compose["rasa"]["command"], owner


def test_the_environment_is_settings_the_gateway_accepts(rendered, monkeypatch):
    env = pod_environment(rendered)
    known = set().union(*(env_names(cls) for cls in settings_classes()))
    assert not set(env) - known - KEDA_ONLY
    for name in known:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for cls in settings_classes():
        cls()
    settings = load_settings()
    services = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Service"}
    assert urlsplit(settings.effective_database_url).hostname == "postgres"
    assert urlsplit(settings.effective_read_database_url).hostname == "postgres-read"
    assert urlsplit(settings.redis_url).hostname == "redis"
    for name in ("postgres", "postgres-read", "redis"):
        assert services[name]["spec"]["type"] == "ExternalName", name
    rasa = urlsplit(settings.rasa_url)
    assert services[rasa.hostname]["spec"]["ports"][0]["port"] == rasa.port
    web_ports = one(rendered, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert web_ports == [{"name": "http", "containerPort": settings.http_port}]
    smtp_ports = one(rendered, "Deployment", "smtp")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert smtp_ports == [{"name": "smtp", "containerPort": EmailSettings().smtp_port}]
    assert services["smtp"]["spec"]["ports"][0]["port"] == 25
    assert settings.trusted_proxy_networks and settings.public_url.startswith("https://")


def test_keda_watches_the_lag_of_the_group_the_workers_read_in(rendered):
    scaled = one(rendered, "ScaledObject", "worker")
    namespace = scaled["metadata"]["namespace"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == one(rendered, "Deployment", "worker")["metadata"]["name"]
    streams, cpu = scaled["spec"]["triggers"]
    settings = load_settings(**pod_environment(rendered))
    assert streams["type"] == "redis-streams"
    assert streams["metadata"]["stream"] == IntakeStream(None, RedisKeys(settings.redis_prefix)).key
    assert streams["metadata"]["consumerGroup"] == CONSUMER_GROUP
    assert int(streams["metadata"]["lagCount"]) > 0
    host, port = streams["metadata"]["address"].rsplit(":", 1)
    assert (host, int(port)) == (f"redis.{namespace}.svc.cluster.local", urlsplit(settings.redis_url).port)
    assert streams["metadata"]["passwordFromEnv"] in pod_environment(rendered)
    assert cpu["type"] == "cpu" and cpu["metricType"] == "Utilization"
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    # KEDA makes the workers' autoscaler itself: a second one would fight it.
    targets = [doc["spec"]["scaleTargetRef"]["name"] for doc in rendered if doc["kind"] == "HorizontalPodAutoscaler"]
    assert targets == ["web"]


def test_without_keda_the_workers_scale_on_cpu(tmp_path):
    docs = kustomize(tmp_path, OVERLAYS[0], components=("without-keda",))
    assert not [doc for doc in docs if doc["kind"] == "ScaledObject"]
    targets = sorted(doc["spec"]["scaleTargetRef"]["name"] for doc in docs if doc["kind"] == "HorizontalPodAutoscaler")
    assert targets == ["web", "worker"]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_ingresses_carry_the_gateway_s_limits_and_its_live_streams(rendered, tmp_path):
    ingresses = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Ingress"}
    web, live = ingresses["web"], ingresses["web-live"]
    size = web["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(size.removesuffix("m")) * 1024 ** 2 == MAX_REQUEST_BYTES
    notes = live["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    patterns = [re.compile(path["path"] + "$") for path in live["spec"]["rules"][0]["http"]["paths"]]
    app = gateway_app(tmp_path)
    live_paths = sse_paths(app)
    assert len(live_paths) >= 3
    for _, path, _ in routes(app):
        concrete = re.sub(r"\{[^}]+\}", "s-0123", path)
        assert any(p.match(concrete) for p in patterns) == (path in live_paths), path
    for ingress in (web, live):
        for path in ingress["spec"]["rules"][0]["http"]["paths"]:
            assert path["backend"]["service"] == {"name": "web", "port": {"name": "http"}}


def test_only_the_ingress_controller_and_monitoring_reach_the_web_pods(rendered):
    policy = one(rendered, "NetworkPolicy", "web")
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "web"}
    (rule,) = policy["spec"]["ingress"]
    allowed = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]}
    assert allowed == {"ingress-nginx", "monitoring"}


def test_the_pods_run_the_images_compose_builds_as_their_own_user(rendered):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    built = {service["image"].split(":")[0]: service["build"]["dockerfile"] for service in compose.values()
             if "build" in service}
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    assert {image["name"] for image in base["images"]} == set(built)
    for doc in rendered:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        repository = container["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        (dockerfile,) = [path for image, path in built.items() if image.endswith("/" + repository)]
        (user,) = [line.split()[1] for line in (ROOT / dockerfile).read_text().splitlines() if line.startswith("USER ")]
        assert pod["securityContext"]["runAsUser"] == int(user.split(":")[0]), doc["metadata"]["name"]
