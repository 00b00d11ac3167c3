"""deploy/helm/order-platform, validated offline: `helm lint`, `helm template` in each
mode, every rendered Kubernetes object against the API's schema (kubernetes-validate,
strict: no unknown field), and the chart in step with the Procfile and config.yml.

helm comes from the helm-binary package (dev extra), no cluster is needed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "order-platform"
KUBERNETES_VERSION = "1.30.0"
HELM = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")

# Objects of the operators the chart drives: no schema of the API server's own.
CUSTOM_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"),
                ("postgresql.cnpg.io/v1", "Cluster"),
                ("keda.sh/v1alpha1", "ScaledObject"),
                ("keda.sh/v1alpha1", "TriggerAuthentication")}
# Environment names the chart composes other values from (not config.yml's own).
HELPER_ENV = {"RABBITMQ_USER", "RABBITMQ_PASSWORD", "PG_SUPERUSER_PASSWORD"}
EXTERNAL = ["--set", "rabbitmq.operator.enabled=false",
            "--set", "rabbitmq.external.existingSecret=shop-broker",
            "--set", "postgresql.cnpg.enabled=false",
            "--set", "postgresql.external.host=db.example.com",
            "--set", "postgresql.external.existingSecret=shop-db"]
MODES = {
    "operators": [],
    "external": EXTERNAL,
    "everything on": ["--set", "keda.enabled=true", "--set", "gateway.ingress.enabled=true",
                      "--set", "gateway.ingress.tlsSecret=shop-tls",
                      "--set", "secrets.jwtSecret=given-secret-of-enough-length-0123456789"],
}


def helm(*args: str) -> str:
    assert HELM, "helm is missing: `make venv` installs it (the helm-binary dev extra)"
    done = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def render(*args: str) -> list[dict]:
    out = helm("template", "shop", str(CHART), "--namespace", "shop", *args)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def containers(docs: list[dict]):
    """(object, container) of every process of the platform (not the chart's Redis)."""
    for doc in docs:
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "redis":
            continue
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            yield doc, container


@pytest.mark.parametrize("mode", MODES)
def test_the_chart_lints_and_every_object_matches_the_kubernetes_schema(mode):
    helm("lint", "--strict", str(CHART), *MODES[mode])
    docs = render(*MODES[mode])
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            assert doc["metadata"]["name"] and doc["spec"], doc
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_gateway_replica_shares_the_rate_limit_counters():
    def storage(*args):
        (gateway,) = [c for doc, c in containers(render(*args))
                      if doc["metadata"]["name"].endswith("-gateway")]
        return {e["name"]: e.get("value") for e in gateway["env"]}["RATE_LIMIT_STORAGE_URI"]

    assert storage() == "redis://shop-order-platform-redis:6379/0"
    assert storage("--set", "redis.enabled=false",
                   "--set", "config.RATE_LIMIT_STORAGE_URI=redis://mine:6379/1"
                   ) == "redis://mine:6379/1"


def test_one_deployment_per_procfile_process_with_its_command():
    procfile = dict(re.match(r"^([\w-]+):\s*(.+)$", line).groups()
                    for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    procfile.pop("mail")  # the local SMTP sink of `make run`: a real SMTP server here
    commands = {doc["metadata"]["name"].removeprefix("shop-order-platform-"):
                " ".join(container["command"])
                for doc, container in containers(render()) if doc["kind"] == "Deployment"}
    assert commands == {name.replace("_", "-"): command.replace(".venv/bin/", "")
                        for name, command in procfile.items()}


def test_every_environment_name_is_one_config_yml_reads():
    config = (ROOT / "config.yml").read_text()
    read = set(re.findall(r"\$\{([A-Z0-9_]+):", config))
    for mode in MODES.values():
        for _doc, container in containers(render(*mode)):
            names = {entry["name"] for entry in container["env"]}
            assert names - read - HELPER_ENV == set()
            assert len(names) == len(container["env"]), "a name set twice"


def test_every_secret_referenced_is_rendered_or_made_by_an_operator_or_the_user():
    made_elsewhere = {"shop-order-platform-rabbitmq-default-user",  # RabbitMQ operator
                      "shop-order-platform-pg-superuser",  # CloudNativePG
                      "shop-broker", "shop-db"}  # the user's, named in values
    for mode in MODES.values():
        docs = render(*mode)
        rendered = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Secret"}
        for _doc, container in containers(docs):
            for entry in container["env"]:
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in rendered | made_elsewhere, ref


def test_the_migration_runs_before_install_unless_the_operators_clusters_come_with_it():
    def hook(*args):
        (job,) = [doc for doc in render(*args) if doc["kind"] == "Job"]
        return job["metadata"]["annotations"]["helm.sh/hook"]

    assert hook(*EXTERNAL) == "pre-install,pre-upgrade"
    assert hook() == "post-install,pre-upgrade"


def test_a_given_secret_is_used_and_none_is_generated():
    docs = render("--set", "secrets.existingSecret=mine")
    assert [doc for doc in docs if doc["kind"] == "Secret"] == []
    refs = {entry["valueFrom"]["secretKeyRef"]["name"]
            for _doc, container in containers(docs) for entry in container["env"]
            if entry.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "JWT_SECRET"}
    assert refs == {"mine"}
