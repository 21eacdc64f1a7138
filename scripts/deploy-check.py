#!/usr/bin/env python3
"""The deployment's checks (scripts/deploy-check.sh provides the tools and runs this).

Each check prints `ok NAME` or `FAIL NAME` with the reason; the last line is
`deploy-check: N passed, M failed`, and the exit status is non-zero when any failed.
Every validator is also run once on an input it must reject (the canaries), so a
validator that cannot fail fails this script.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "errand"
HELM = os.environ["HELM"]
RELEASE, NAMESPACE = "errand", "errand"
# The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion) and the newest
# kubernetes-validate knows.
KUBE_VERSIONS = ["1.29.0", os.environ.get("KUBERNETES_VALIDATE_VERSION", "1.37.0")]
PROFILES = {
    "default": [],
    "embedded": ["-f", str(CHART / "profiles" / "embedded.yaml")],
    "dapr-bundled": ["-f", str(CHART / "profiles" / "dapr-bundled.yaml")],
    "dapr-external": ["-f", str(CHART / "profiles" / "dapr-external.yaml")],
}
# Kinds that come from CRDs, and who validates them here.
DAPR_KINDS = {"Component": "components.yaml", "Configuration": "configuration.yaml", "Resiliency": "resiliency.yaml"}
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}

# Checkov's findings that are accepted, each for the resources named and for the
# reason given; any other finding fails.
CHECKOV_WAIVERS = [
    ("CKV_K8S_43", r".*", "Images are pinned by version tag; a digest cannot be resolved without a registry "
     "here. Every image value takes a digest (image.digest, postgresql.image.digest, ...), and the deploy "
     "workflow installs Errand by the digest it just pushed."),
    ("CKV_K8S_15", r".*", "imagePullPolicy IfNotPresent with version tags or digests: Always only helps with "
     "mutable tags, and costs a registry round trip (and an outage when the registry is down) per start."),
    ("CKV_K8S_38", r"Deployment\.errand\.errand(-consumer-.*)?$", "The Dapr runtime's pods mount their "
     "ServiceAccount token: daprd reads Errand's Secret through the Kubernetes API (the secret store), and "
     "the Role allows `get` on that one Secret only. Every other pod has automountServiceAccountToken: false."),
    ("CKV_K8S_35", r"StatefulSet\.errand\.errand$", "The embedded runtime's process reads ERRAND_JWT_SECRET, "
     "ERRAND_DATABASE_URL and OPENAI_API_KEY from the environment (secretKeyRef), the only way Errand takes "
     "them outside Dapr; the Dapr runtime has them in no variable (it reads them through daprd)."),
    ("CKV_K8S_40", r"StatefulSet\.errand\.errand-(postgresql|redis|kafka)$", "The bundled PostgreSQL, Redis and "
     "Kafka run as their official images' own non-root users (999, 999, 1000), which own the images' data "
     "directories; runAsNonRoot is enforced. Errand's own containers run as 10001."),
    ("CKV_K8S_8", r"Pod\.errand\.errand-test-readyz$", "The helm test pod runs one request and exits: no probes."),
    ("CKV_K8S_9", r"Pod\.errand\.errand-test-readyz$", "The helm test pod runs one request and exits: no probes."),
    ("CKV2_K8S_6", r"Pod\.errand\.errand-test-readyz$", "The helm test pod (a hook that lives seconds) accepts "
     "no connections; it only calls the API, which admits it by its client label."),
]

results = []


def report(name, ok, detail=""):
    results.append(ok)
    line = f"{'ok' if ok else 'FAIL'} {name}"
    if detail:
        line += ": " + detail if ok else "\n    " + detail.replace("\n", "\n    ")
    print(line, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def helm_noise(text):
    """Helm's stderr without its notice for the chart's links (dapr/, observability/)."""
    return "\n".join(line for line in text.splitlines() if "found symbolic link in path" not in line).strip()


def render(args, chart=CHART, release=RELEASE):
    out = run([HELM, "template", release, str(chart), "--namespace", NAMESPACE, *args])
    if out.returncode != 0:
        raise RuntimeError(helm_noise(out.stderr))
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def key(doc):
    return f"{doc['kind']}.{doc['metadata'].get('namespace', '')}.{doc['metadata']['name']}"


# --- Helm ------------------------------------------------------------------------------
def check_lint():
    for profile, args in PROFILES.items():
        out = run([HELM, "lint", "--strict", str(CHART), "--namespace", NAMESPACE, *args])
        ok = out.returncode == 0
        report(f"helm lint --strict ({profile})", ok, "" if ok else helm_noise(out.stdout + out.stderr))


def render_profiles():
    renders = {}
    for profile, args in PROFILES.items():
        try:
            renders[profile] = render(args)
            report(f"helm template ({profile})", True, f"{len(renders[profile])} resources")
        except RuntimeError as e:
            report(f"helm template ({profile})", False, str(e))
    return renders


# --- Kubernetes schemas ----------------------------------------------------------------
def check_kubernetes_schemas(renders):
    for profile, docs in renders.items():
        for version in KUBE_VERSIONS:
            errors = []
            for doc in docs:
                if doc["kind"] in DAPR_KINDS or doc["kind"] in MONITORING_KINDS:
                    continue
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    errors.append(f"{key(doc)}: {'.'.join(map(str, e.path))}: {e.message}")
                except kubernetes_validate.SchemaNotFoundError as e:
                    errors.append(f"{key(doc)}: {e.message} (a kind nothing here validates)")
            report(f"kubernetes-validate --strict {version} ({profile})", not errors, "\n".join(errors))


def strict_schema(node):
    """A CRD's structural schema as a JSON Schema that, like the API server's strict field
    validation, refuses fields it does not declare."""
    if isinstance(node, dict):
        node = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict_schema(v) for v in node]
    return node


def dapr_validators():
    crds = Path(os.environ["DAPR_CRDS"])
    validators = {}
    for kind, file in DAPR_KINDS.items():
        crd = yaml.safe_load((crds / file).read_text())
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
        schema = strict_schema(version["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"type": "object"}
        validators[kind] = jsonschema.Draft7Validator(schema)
    return validators


def dapr_errors(validators, doc):
    if doc.get("apiVersion") != "dapr.io/v1alpha1":
        return [f"{key(doc)}: apiVersion {doc.get('apiVersion')}"]
    return [f"{key(doc)}: {'.'.join(map(str, e.path))}: {e.message}" for e in validators[doc["kind"]].iter_errors(doc)]


def check_dapr_schemas(renders, validators):
    for profile, docs in renders.items():
        dapr = [d for d in docs if d["kind"] in DAPR_KINDS]
        if not dapr:
            continue
        errors = [e for d in dapr for e in dapr_errors(validators, d)]
        report(f"Dapr {os.environ['DAPR_VERSION']} CRD schemas ({profile})", not errors,
               "\n".join(errors) or f"{len(dapr)} resources")


def check_dapr_annotations(renders):
    """Every dapr.io/ annotation on a pod is one Dapr's sidecar injector reads (its
    annotation names, from the dapr module's source): a misspelt one is silently ignored
    by Kubernetes and by Dapr."""
    source = Path(os.environ["DAPR_CRDS"]).parents[2] / "pkg" / "injector" / "annotations"
    known = set(re.findall(r'"(dapr\.io/[a-z0-9-]+)"', "".join(p.read_text() for p in source.glob("*.go")
                                                             if not p.name.endswith("_test.go"))))
    for profile, docs in renders.items():
        used = {(key(d), a) for d, tpl in pods(docs) for a in tpl["metadata"].get("annotations", {})
                if a.startswith("dapr.io/")}
        if not used:
            continue
        unknown = sorted(f"{k}: {a}" for k, a in used if a not in known)
        report(f"Dapr {os.environ['DAPR_VERSION']} injector knows every dapr.io annotation ({profile})",
               bool(known) and not unknown, "\n".join(unknown) or f"{len({a for _, a in used})} annotations")


def monitoring_check(docs):
    stdin = "".join(json.dumps(d) + "\n" for d in docs)
    return run([os.environ["MONITORING_CHECK"]], input=stdin)


def check_monitoring(renders):
    for profile, docs in renders.items():
        mon = [d for d in docs if d["kind"] in MONITORING_KINDS]
        if not mon:
            continue
        out = monitoring_check(mon)
        errors = [] if out.returncode == 0 else [(out.stdout + out.stderr).strip()]
        # A ServiceMonitor that selects no Service, or a port they lack, scrapes nothing.
        services = [d for d in docs if d["kind"] == "Service"]
        for sm in (d for d in mon if d["kind"] == "ServiceMonitor"):
            want = sm["spec"]["selector"]["matchLabels"]
            matched = [s for s in services if want.items() <= s["metadata"].get("labels", {}).items()]
            if not matched:
                errors.append(f"{key(sm)} selects no Service")
            for ep in sm["spec"]["endpoints"]:
                for s in matched:
                    if ep["port"] not in {p.get("name") for p in s["spec"]["ports"]}:
                        errors.append(f"{key(sm)}: {key(s)} has no port named {ep['port']}")
        report(f"Prometheus operator {os.environ['MONITORING_VERSION']} types ({profile})", not errors,
               "\n".join(errors) or f"{len(mon)} resources")


# --- Security --------------------------------------------------------------------------
def checkov_findings(path):
    out = run([os.environ["CHECKOV"], "-f", str(path), "--framework", "kubernetes", "-o", "json", "--compact"])
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr.strip() or out.stdout.strip())
    data = json.loads(out.stdout or "[]")
    reports = data if isinstance(data, list) else [data]
    failed = [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]
    passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in reports)
    return failed, passed


def check_checkov(renders, work):
    for profile, docs in renders.items():
        path = work / f"{profile}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        try:
            failed, passed = checkov_findings(path)
        except RuntimeError as e:
            report(f"checkov ({profile})", False, str(e))
            continue
        unwaived = [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in failed
                    if not any(f["check_id"] == c and re.match(r, f["resource"]) for c, r, _ in CHECKOV_WAIVERS)]
        report(f"checkov ({profile})", not unwaived,
               "\n".join(unwaived) or f"{passed} passed, {len(failed)} waived (see CHECKOV_WAIVERS)")


SECRET_NAME = re.compile(r"(jwt|password|passwd|secret|api[-_]?key|token|credential)", re.I)
# Names of settings that look secret and are not: a lifetime, and where a secret is.
NOT_SECRET = {"ERRAND_TOKEN_TTL_HOURS", "ERRAND_DAPR_SECRET_STORE", "ERRAND_DAPR_SECRET_NAME"}


def check_secrets_stay_secret(renders):
    """Secrets are never in a ConfigMap, an annotation or a literal env value: no ConfigMap
    key that names a secret, no Secret value anywhere outside Secrets, no env value set
    literally under a secret's name."""
    import base64
    for profile, docs in renders.items():
        errors = []
        values = set()
        for s in (d for d in docs if d["kind"] == "Secret"):
            for k, v in (s.get("data") or {}).items():
                text = base64.b64decode(v).decode()
                values.add(text)
                # The PostgreSQL password inside the database URL counts too.
                m = re.match(r"^postgres(?:ql)?://[^:/@]+:([^@]+)@", text)
                if m:
                    values.add(m.group(1))
        values = {v for v in values if len(v) >= 8}
        for d in docs:
            if d["kind"] == "Secret":
                continue
            if d["kind"] == "ConfigMap":
                for k in d.get("data") or {}:
                    if SECRET_NAME.search(k) and k not in NOT_SECRET:
                        errors.append(f"{key(d)} has a key named like a secret: {k}")
            text = json.dumps(d)
            for v in values:
                if v in text:
                    errors.append(f"{key(d)} contains a Secret's value")
            pod = d.get("spec", {}).get("template", {}).get("spec") or (d["spec"] if d["kind"] == "Pod" else None)
            for c in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
                for e in c.get("env", []):
                    # NAME_FILE holds a path to a mounted secret, not the secret.
                    if ("value" in e and SECRET_NAME.search(e["name"]) and e["name"] not in NOT_SECRET
                            and not e["name"].endswith("_FILE")):
                        errors.append(f"{key(d)} sets {e['name']} literally; use a secretKeyRef")
        report(f"secrets only in Secrets ({profile})", not errors, "\n".join(errors))


# --- The Dapr resources are dapr/'s files ----------------------------------------------
def expected_dapr(values, release):
    """dapr/'s files as the chart must render them for these values: the placeholders
    filled in, and exactly the Kubernetes changes templates/dapr.yaml lists."""
    def get(path, default=None):
        node = values
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node
    full = release if "errand" in release else f"{release}-errand"
    domain = get("clusterDomain", "cluster.local")
    brokers = (f"{full}-kafka.{NAMESPACE}.svc.{domain}:9092" if get("kafka.enabled") else get("dapr.kafka.brokers"))
    redis = (f"{full}-redis.{NAMESPACE}.svc.{domain}:6379" if get("redis.enabled") else get("dapr.redis.address"))
    if get("redis.enabled"):
        redis_password = {"name": f"{full}-redis", "key": "password"}
    else:
        redis_password = get("dapr.redis.passwordSecret") if get("dapr.redis.passwordSecret.name") else None
    app_id = get("dapr.appId", "errand")
    secret_name = get("secrets.existingSecret") or full
    labels = {
        "helm.sh/chart": "errand-" + yaml.safe_load((CHART / "Chart.yaml").read_text())["version"],
        "app.kubernetes.io/name": "errand", "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "dapr", "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "errand",
        "app.kubernetes.io/version": str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]),
    }
    expected = {}
    # Every YAML file under dapr/, as scripts/dapr-env.sh renders them for the tests: one
    # the chart does not render fails below.
    files = sorted((ROOT / "dapr").rglob("*.yaml"))
    for f in files:
        text = f.read_text().replace("{{KAFKA_BROKERS}}", brokers).replace("{{REDIS_ADDRESS}}", redis)
        doc = yaml.safe_load(text)
        doc["metadata"]["namespace"] = NAMESPACE
        doc["metadata"]["labels"] = labels
        if doc["kind"] == "Component":
            if doc["spec"]["type"] == "secretstores.local.file":
                doc["spec"] = {"type": "secretstores.kubernetes", "version": "v1", "metadata": []}
            overrides = []
            if doc["spec"]["type"].startswith("state.") and redis_password:
                overrides.append({"name": "redisPassword", "secretKeyRef": redis_password})
            overrides += get(f"dapr.componentMetadata.{doc['metadata']['name']}", []) or []
            if overrides:
                names = {o["name"] for o in overrides}
                kept = [m for m in doc["spec"].get("metadata", []) if m["name"] not in names]
                doc["spec"]["metadata"] = kept + overrides
        if doc.get("scopes"):
            doc["scopes"] = [app_id if s == "errand" else s for s in doc["scopes"]]
        if doc["kind"] == "Configuration":
            doc["spec"].pop("nameResolution", None)
            for scope in doc["spec"]["secrets"]["scopes"]:
                scope["allowedSecrets"] = [secret_name if s == "errand" else s for s in scope["allowedSecrets"]]
            if get("dapr.tracing.otlpEndpoint"):
                doc["spec"]["tracing"]["otel"] = {
                    "endpointAddress": get("dapr.tracing.otlpEndpoint"),
                    "isSecure": get("dapr.tracing.otlpIsSecure"), "protocol": get("dapr.tracing.otlpProtocol")}
        expected[f"{doc['kind']}/{doc['metadata']['name']}"] = (f.relative_to(ROOT), doc)
    return expected


def check_dapr_files(renders):
    link = CHART / "dapr"
    report("helm/errand/dapr is a link to the repository's dapr/ (not a copy)",
           link.is_symlink() and link.resolve() == (ROOT / "dapr").resolve(), f"{link} -> {os.readlink(link)}"
           if link.is_symlink() else f"{link} is not a symbolic link")
    cases = [(p, RELEASE, PROFILES[p], renders.get(p)) for p in ("dapr-bundled", "dapr-external")]
    # Another release name and app id: the names that follow them follow everywhere.
    extra = ["-f", str(CHART / "profiles" / "dapr-bundled.yaml"), "--set", "dapr.appId=tasks"]
    cases.append(("dapr-bundled, release tasks, app id tasks", "tasks", extra, None))
    for name, release, args, docs in cases:
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        for i, a in enumerate(args):
            if a == "-f":
                merge(values, yaml.safe_load(Path(args[i + 1]).read_text()))
            if a == "--set":
                k, v = args[i + 1].split("=", 1)
                merge(values, nested(k, v))
        try:
            docs = docs if docs is not None else render(args, release=release)
        except RuntimeError as e:
            report(f"Dapr resources are dapr/'s files ({name})", False, str(e))
            continue
        expected = expected_dapr(values, release)
        errors = dapr_differences(docs, expected)
        report(f"Dapr resources are dapr/'s files ({name})", not errors,
               "\n".join(errors) or ", ".join(str(v[0]) for v in expected.values()))
    # The comparison itself: a chart whose dapr/ differs by one value must fail it.
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "errand"
        shutil.copytree(CHART, chart, symlinks=False)
        sweep = chart / "dapr" / "components" / "sweep.yaml"
        sweep.write_text(sweep.read_text().replace('"@every 1m"', '"@every 2m"'))
        args = PROFILES["dapr-bundled"]
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        merge(values, yaml.safe_load(Path(args[1]).read_text()))
        errors = dapr_differences(render(args, chart=chart), expected_dapr(values, RELEASE))
        caught = len(errors) == 1 and "sweep.yaml" in errors[0]
        report("canary: the dapr/ comparison catches a changed value", caught, "" if caught else "\n".join(errors))


def dapr_differences(docs, expected):
    rendered = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if d["kind"] in DAPR_KINDS}
    errors = []
    for k in sorted(set(expected) | set(rendered)):
        if k not in rendered:
            errors.append(f"{expected[k][0]} is not rendered")
        elif k not in expected:
            errors.append(f"{k} is rendered but is no file of dapr/")
        elif rendered[k] != expected[k][1]:
            errors.append(f"{expected[k][0]} differs:\n  want {json.dumps(expected[k][1], sort_keys=True)}\n"
                          f"  got  {json.dumps(rendered[k], sort_keys=True)}")
    return errors


def merge(into, other):
    for k, v in (other or {}).items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)


def nested(path, value):
    out = node = {}
    parts = path.split(".")
    for p in parts[:-1]:
        node[p] = {}
        node = node[p]
    node[parts[-1]] = value
    return out


# --- What the chart promises -----------------------------------------------------------
def check_values_schema():
    bad = [
        ("runtime=k8s", ["--set", "runtime=k8s"], "/runtime"),
        ("an unknown key", ["--set", "api.replica=3"], "additional properties 'replica'"),
        ("a replica count of 0", ["--set", "api.replicas=0"], "/api/replicas"),
        ("a token secret under 32 characters", ["--set", "secrets.jwtSecret=short"], "/secrets/jwtSecret"),
        ("an image pull policy", ["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
        ("a digest that is not sha256", ["--set", "image.digest=latest"], "/image/digest"),
        ("brokers without a port", ["--set", "dapr.kafka.brokers=kafka.example.net"], "/dapr/kafka/brokers"),
        ("a CORS origin with a path", ["--set", "config.corsOrigins[0]=https://a.example/x"], "/config/corsOrigins/0"),
        ("a string for a number", ["--set-string", "config.tokenTtlHours=soon"], "/config/tokenTtlHours"),
        ("a database URL that is not PostgreSQL", ["--set", "database.url=mysql://db/errand"], "/database/url"),
    ]
    for name, args, where in bad:
        out = run([HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])
        err = helm_noise(out.stderr)
        ok = out.returncode != 0 and "don't meet the specifications of the schema" in err and where in err
        report(f"values schema rejects {name}", ok, err if not ok else "")
    good = ["--set", "secrets.jwtSecret=" + "x" * 32, "--set", "config.corsOrigins[0]=https://tasks.example.com"]
    out = run([HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *good])
    report("values schema accepts good values", out.returncode == 0, helm_noise(out.stderr))
    contradictions = [
        ("the Dapr runtime without PostgreSQL", ["--set", "runtime=dapr,kafka.enabled=true,redis.enabled=true"],
         "runtime dapr needs PostgreSQL"),
        ("the Dapr runtime without Kafka", ["--set", "runtime=dapr,postgresql.enabled=true,redis.enabled=true"],
         "runtime dapr needs Kafka"),
        ("two databases", ["--set", "postgresql.enabled=true,database.url=postgres://x@db/errand"], "not both"),
    ]
    for name, args, message in contradictions:
        out = run([HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])
        ok = out.returncode != 0 and message in out.stderr
        report(f"chart refuses {name}", ok, helm_noise(out.stderr) if not ok else "")


def pods(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            yield d, d["spec"]["template"]
        elif d["kind"] == "Pod":
            yield d, d


def check_workloads(renders):
    for profile, docs in renders.items():
        errors = []
        dapr = any(d["kind"] == "Configuration" for d in docs)
        configs = {d["metadata"]["name"] for d in docs if d["kind"] == "Configuration"}
        app_ids = []
        for d, tpl in pods(docs):
            spec = tpl["spec"]
            for c in spec["containers"]:
                sc = c.get("securityContext", {})
                if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                        and sc.get("runAsNonRoot") and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                    errors.append(f"{key(d)}/{c['name']}: not read-only, non-root, without capabilities")
                if not c.get("resources", {}).get("requests") or not c.get("resources", {}).get("limits"):
                    errors.append(f"{key(d)}/{c['name']}: no resource requests and limits")
            if d["metadata"]["labels"].get("app.kubernetes.io/part-of") != "errand":
                errors.append(f"{key(d)}: not labelled part-of errand")
            errand = [c for c in spec["containers"] if c["name"] == "errand"]
            for c in errand:
                ready = c["readinessProbe"]["httpGet"]["path"]
                serving = c["args"][0] == "serve"
                if ready != ("/readyz" if serving else "/healthz") or c["livenessProbe"]["httpGet"]["path"] != "/healthz":
                    errors.append(f"{key(d)}: probes should be /readyz (serve) or /healthz and /healthz")
            ann = tpl["metadata"].get("annotations", {})
            if errand and dapr:
                if ann.get("dapr.io/enabled") != "true" or ann.get("dapr.io/app-port") != "8080":
                    errors.append(f"{key(d)}: no Dapr sidecar on the app port")
                if ann.get("dapr.io/config") not in configs:
                    errors.append(f"{key(d)}: dapr.io/config names no rendered Configuration")
                app_ids.append(ann.get("dapr.io/app-id"))
        if len(app_ids) != len(set(app_ids)):
            errors.append(f"app ids are not unique: {app_ids}")
        if dapr:
            kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
            for want in [("HorizontalPodAutoscaler", "errand")] if profile == "dapr-external" else []:
                if want not in kinds:
                    errors.append(f"no {want}")
            if ("PodDisruptionBudget", "errand") not in kinds:
                errors.append("no PodDisruptionBudget for the API")
            if not [d for d in docs if d["kind"] == "NetworkPolicy"]:
                errors.append("no NetworkPolicy")
        report(f"workloads: security contexts, resources, probes, Dapr annotations ({profile})", not errors,
               "\n".join(errors))


def check_helm_test(renders):
    for profile, docs in renders.items():
        tests = [d for d in docs if d["kind"] == "Pod" and d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
        script = "".join(tests[0]["spec"]["containers"][0]["args"]) if tests else ""
        host = f"{RELEASE}.{NAMESPACE}.svc.cluster.local"
        ok = len(tests) == 1 and "GET /readyz" in script and host in script and "8080" in script
        report(f"helm test hook asks /readyz of the API Service ({profile})", ok,
               "" if ok else f"{len(tests)} test pods; script: {script[:200]}")


def check_notes():
    """NOTES.txt renders for every profile (helm template does not print it: a copy of the
    chart renders it as a value)."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "errand"
        shutil.copytree(CHART, chart, symlinks=False)
        shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
        (chart / "templates" / "zz-notes.yaml").write_text('{{ dict "notes" (tpl (.Files.Get "notes.txt") .) | toYaml }}\n')
        for profile, args in PROFILES.items():
            try:
                docs = render(args + ["--show-only", "templates/zz-notes.yaml"], chart=chart)
                notes = docs[0]["notes"]
                ok = "helm test" in notes and "helm rollback" in notes
                report(f"NOTES.txt renders ({profile})", ok, notes if not ok else "")
            except (RuntimeError, IndexError, KeyError) as e:
                report(f"NOTES.txt renders ({profile})", False, str(e))


def check_observability():
    """Dashboards and alert rules come from deploy/observability/ when enabled."""
    on = ["--set", "metrics.dashboards.enabled=true,metrics.prometheusRule.enabled=true"]
    link = CHART / "observability"
    report("helm/errand/observability is a link to deploy/observability",
           link.is_symlink() and link.resolve() == (ROOT / "deploy" / "observability").resolve())
    # The folder's own files: each dashboard a labelled ConfigMap holding it as it is,
    # the rule file the PrometheusRule (valid for the operator's types), the rules' unit
    # tests (no `groups`) left out, and nothing when disabled.
    folder = ROOT / "deploy" / "observability"
    try:
        docs = render(on)
        cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]}
        for path in sorted(folder.rglob("*.json")):
            name = "errand-dashboard-" + re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
            cm = cms.get(name)
            ok = (cm is not None and cm["metadata"]["labels"].get("grafana_dashboard") == "1"
                  and json.loads(cm["data"][path.name]) == json.loads(path.read_text()))
            report(f"observability: {path.name} becomes the labelled ConfigMap {name}", ok,
                   json.dumps(sorted(cms))[:400] if not ok else "")
        prs = [d for d in docs if d["kind"] == "PrometheusRule"]
        rules = yaml.safe_load((folder / "alerts.yaml").read_text())
        ok = len(prs) == 1 and prs[0]["spec"]["groups"] == rules["groups"]
        if ok:
            ok = monitoring_check(prs).returncode == 0
        report("observability: alerts.yaml becomes the PrometheusRule (its unit tests do not)", ok,
               json.dumps(prs)[:400] if not ok else "")
        off = render([])
        extra = [d for d in off if d["kind"] == "PrometheusRule" or "dashboard" in d["metadata"]["name"]]
        report("observability: nothing rendered when disabled", not extra)
    except RuntimeError as e:
        report("observability: renders with its files", False, str(e))


# --- Workflows and the Dockerfile --------------------------------------------------------
def check_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        report("actionlint", False, "no workflows in .github/workflows")
        return
    out = run([os.environ["ACTIONLINT"], "-shellcheck", shutil.which("shellcheck") or "", *map(str, workflows)], cwd=ROOT)
    report(f"actionlint {os.environ['ACTIONLINT_VERSION']} ({len(workflows)} workflows, shellcheck on run: steps)",
           out.returncode == 0 and shutil.which("shellcheck") is not None, (out.stdout + out.stderr).strip())


def check_workflow_policy():
    """Pinned actions, least-privilege permissions and a concurrency group in every workflow."""
    for wf in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        doc = yaml.safe_load(wf.read_text())
        errors = []
        if "permissions" not in doc:
            errors.append("no top-level permissions")
        elif doc["permissions"] not in ({}, {"contents": "read"}):
            errors.append(f"top-level permissions grant more than contents: read: {doc['permissions']}")
        if "concurrency" not in doc:
            errors.append("no concurrency group")
        for name, job in doc.get("jobs", {}).items():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses and not uses.startswith("./") and not re.search(r"@[0-9a-f]{40}$", uses):
                    errors.append(f"{name}: {uses} is not pinned to a commit")
        report(f"workflow policy ({wf.name}): pinned actions, permissions, concurrency", not errors, "\n".join(errors))


def check_hadolint():
    out = run([os.environ["HADOLINT"], "--failure-threshold", "info", str(ROOT / "Dockerfile")])
    report("hadolint 2.15.1 (Dockerfile, every rule down to info)", out.returncode == 0, (out.stdout + out.stderr).strip())


def check_shellcheck():
    names = ["deploy-check.sh", "go-build.sh", "observability-tools.sh", "smoke-test.sh"]
    # -x: follow the sourced go-build.sh (its source= directive is relative to the root).
    out = run([os.environ["SHELLCHECK"], "-x", *(f"scripts/{n}" for n in names)], cwd=ROOT)
    report(f"shellcheck ({', '.join('scripts/' + n for n in names)})", out.returncode == 0, out.stdout.strip())


# --- The probes and the smoke test against a real Errand ------------------------------------
def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_against_errand(renders):
    """The deploy's smoke test, the image's HEALTHCHECK and the helm test pod's script, each
    run for real against `errand serve` (the debug binary `make test` built) on loopback,
    and each failing against a port where nothing listens."""
    binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "errand"
    if not binary.exists():
        build = run(["cargo", "build", "--locked", "--bin", "errand"], cwd=ROOT)
        if build.returncode != 0:
            report("errand serve for the smoke test", False, build.stderr[-2000:])
            return
    import time
    port, dead = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="errand-smoke.") as data:
        env = dict(os.environ, RUST_LOG="warn", ERRAND_LOG_FORMAT="json")
        server = subprocess.Popen([str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            smoke = str(ROOT / "scripts" / "smoke-test.sh")
            out = run([smoke, f"http://127.0.0.1:{port}"], env=dict(os.environ, SMOKE_WAIT_SECS="60"))
            report("smoke test passes against errand serve (/readyz, a task round trip)", out.returncode == 0,
                   out.stderr.strip() if out.returncode else "")
            out = run([smoke, f"http://127.0.0.1:{dead}"], env=dict(os.environ, SMOKE_WAIT_SECS="2"))
            report("smoke test fails where nothing listens", out.returncode != 0)
            # The Dockerfile's HEALTHCHECK, as the JSON array it is, with this port.
            line = next(l for l in (ROOT / "Dockerfile").read_text().splitlines() if l.strip().startswith("CMD [\"/bin/bash\""))
            health = json.loads(line.strip()[len("CMD "):])
            for want, p in ((0, port), (1, dead)):
                cmd = [health[0], health[1], health[2].replace("/127.0.0.1/8080", f"/127.0.0.1/{p}")]
                rc = run(cmd, timeout=20).returncode
                report(f"Dockerfile HEALTHCHECK {'passes on' if want == 0 else 'fails without'} /healthz",
                       (rc == 0) == (want == 0), f"exit {rc}")
            # The helm test pod's script, pointed at this server (and with fewer tries at
            # the dead port).
            pod = next(d for d in renders["default"] if d["kind"] == "Pod")
            script = pod["spec"]["containers"][0]["args"][0]
            for want, p in ((0, port), (1, dead)):
                text = re.sub(r"^(\s*)host=.*$", r"\1host=127.0.0.1", script, flags=re.M)
                text = re.sub(r"^(\s*)port=.*$", rf"\g<1>port={p}", text, flags=re.M)
                text = text.replace("seq 1 30", "seq 1 2").replace("sleep 2", "sleep 0.2")
                rc = run(["/bin/bash", "-c", text], timeout=60).returncode
                report(f"helm test script {'passes on' if want == 0 else 'fails without'} /readyz",
                       (rc == 0) == (want == 0), f"exit {rc}")
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


# --- The bundled dependencies' configuration, run by the same programs --------------------
def rendered(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def check_kafka_config(renders):
    """The bundled Kafka's server.properties and cluster id, as the chart renders them,
    accepted by Kafka's own storage tool (the version the Dapr suite runs: Kafka's jars
    from scripts/dapr-tools.sh), which parses the whole broker configuration."""
    docs = renders["dapr-bundled"]
    config = rendered(docs, "ConfigMap", "errand-kafka")["data"]
    cluster_id = re.search(r'--cluster-id "([^"]+)"', config["start.sh"]).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        props = Path(tmp) / "server.properties"
        props.write_text(config["server.properties"].replace("/var/lib/kafka/data/logs", f"{tmp}/logs"))
        log4j = Path(tmp) / "log4j2.properties"
        log4j.write_text(config["log4j2.properties"])
        java = ["java", f"-Dlog4j2.configurationFile={log4j}", "-cp", os.environ["KAFKA_LIBS"] + "/*",
                "kafka.tools.StorageTool", "format", "--ignore-formatted", "--cluster-id", cluster_id,
                "--config", str(props)]
        first, again = run(java, timeout=120), run(java, timeout=120)
        meta = (Path(tmp) / "logs" / "meta.properties")
        ok = first.returncode == 0 and again.returncode == 0 and meta.exists() and f"cluster.id={cluster_id}" in meta.read_text()
        report(f"bundled Kafka's configuration and cluster id accepted by Kafka {os.environ.get('KAFKA_VERSION', '')}'s "
               "storage tool (and formatting twice keeps it)", ok,
               "" if ok else (first.stdout + first.stderr + again.stdout + again.stderr)[-2000:])
        bad = run(java[:-4] + ["--cluster-id", "not-a-uuid", "--config", str(props)], timeout=120)
        report("canary: Kafka's storage tool rejects a bad cluster id", bad.returncode != 0)


def check_redis_config(renders):
    """The bundled Redis's arguments and readiness probe, run with redis-server and
    redis-cli (Debian's, as the Dapr suite runs): it starts with the password from the
    included file and the append-only file on, refuses commands without the password, and
    the probe answers."""
    import time
    docs = renders["dapr-bundled"]
    sts = rendered(docs, "StatefulSet", "errand-redis")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    secret = rendered(docs, "Secret", "errand-redis")
    import base64
    with tempfile.TemporaryDirectory() as tmp:
        auth = Path(tmp) / "auth"
        auth.mkdir()
        for k, v in secret["data"].items():
            (auth / k).write_text(base64.b64decode(v).decode())
        (Path(tmp) / "data").mkdir()
        port = free_port()
        args = [a.replace("/etc/redis-auth", str(auth)).replace("/data", f"{tmp}/data") for a in container["args"]]
        server = subprocess.Popen([os.environ["REDIS_SERVER"], *args[1:], "--port", str(port), "--bind", "127.0.0.1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for _ in range(50):
                if run(["redis-cli", "-p", str(port), "ping"]).stdout.strip():
                    break
                time.sleep(0.1)
            noauth = run(["redis-cli", "-p", str(port), "ping"]).stdout.strip()
            probe = container["readinessProbe"]["exec"]["command"]
            probe = [a.replace("/etc/redis-auth", str(auth)).replace("-h 127.0.0.1", f"-h 127.0.0.1 -p {port}")
                     for a in probe]
            ready = run(probe).returncode
            aof = run(["redis-cli", "-p", str(port), "--no-auth-warning", "-a", (auth / "password").read_text(),
                       "config", "get", "appendonly"]).stdout.split()
            ok = noauth.startswith("NOAUTH") and ready == 0 and aof[-1:] == ["yes"]
            report("bundled Redis: its arguments start redis-server with a password and the append-only file, "
                   "and its readiness probe answers", ok, "" if ok else f"ping {noauth!r}, probe exit {ready}, {aof}")
        finally:
            server.terminate()
            server.wait(timeout=20)


# --- The Docker build context --------------------------------------------------------------
def docker_ignored(patterns, path):
    """Whether .dockerignore leaves `path` out of the context (Docker's rules: patterns in
    order, the last match wins, `!` re-includes, a match on a parent directory applies to
    what is below it; `*` and `?` stop at `/`, `**` does not)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negate, rx in patterns:
        if any(rx.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def check_docker_context():
    """The build context .dockerignore leaves is enough: every workspace manifest, every
    file a COPY names, and the workspace loads from it (cargo metadata, offline, no
    build); and build output, node_modules, local data and the chart stay out."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        p = line[1:] if negate else line
        rules.append((negate, regex_for(p.strip("/"))))
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split()
    context = [f for f in files if not docker_ignored(rules, f)]
    errors = []
    for f in files:
        if f.endswith("Cargo.toml") and f not in context:
            errors.append(f"{f} is left out")
    for f in ["Cargo.lock", "frontend/package.json", "frontend/package-lock.json", "frontend/index.html"]:
        if f not in context:
            errors.append(f"{f} (the Dockerfile needs it) is left out")
    for f in ["target/debug/errand", "frontend/node_modules/x/index.js", "frontend/dist/index.html", "data/errand.db",
              "helm/errand/values.yaml", ".github/workflows/ci.yml", "README.md", ".git/config", "fuzz/corpus/x/1"]:
        if not docker_ignored(rules, f):
            errors.append(f"{f} would be in the context")
    with tempfile.TemporaryDirectory() as tmp:
        for f in context:
            if (ROOT / f).is_file():
                (Path(tmp) / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / f, Path(tmp) / f)
        out = run(["cargo", "metadata", "--offline", "--locked", "--no-deps", "--format-version", "1"], cwd=tmp)
        if out.returncode != 0:
            errors.append("cargo metadata in the context: " + out.stderr.strip()[-1500:])
        else:
            members = {p["name"] for p in json.loads(out.stdout)["packages"]}
            if "errand-api" not in members:
                errors.append("the context's workspace has no errand-api")
    report(f"Docker build context: {len(context)} files, the workspace loads, build output and local data stay out",
           not errors, "\n".join(errors))


def regex_for(pattern):
    """A .dockerignore pattern as a regular expression (Go's filepath.Match, and `**`)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern[i:i + 3] == "**/":  # any directories, or none (moby's patternmatcher)
            out, i = out + "(.*/)?", i + 3
        elif pattern[i:i + 2] == "**":
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


# --- Canaries: every validator rejects what it must ---------------------------------------
def check_canaries(validators, work):
    bad_deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"replicas": "two", "selector": {}, "template": {"spec": {"containerz": []}}}}
    caught = False
    try:
        kubernetes_validate.validate(bad_deploy, KUBE_VERSIONS[-1], strict=True)
    except kubernetes_validate.ValidationError:
        caught = True
    report("canary: kubernetes-validate rejects a bad Deployment", caught)
    bad_component = {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"},
                     "spec": {"type": "state.redis", "version": "v1", "metadat": [{"name": "a", "value": "b"}]}}
    report("canary: the Dapr CRD schema rejects a misspelt field", bool(dapr_errors(validators, bad_component)))
    out = monitoring_check([{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                             "metadata": {"name": "x"}, "spec": {"endpoints": [{"prot": "http"}]}}])
    report("canary: monitoring-check rejects a misspelt field", out.returncode == 1, out.stdout.strip())
    pod = work / "canary-pod.yaml"
    pod.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "x"},
                                   "spec": {"containers": [{"name": "x", "image": "x:latest",
                                                            "securityContext": {"privileged": True}}]}}))
    failed, _ = checkov_findings(pod)
    report("canary: checkov rejects a privileged pod", any(f["check_id"] == "CKV_K8S_16" for f in failed))
    wf = work / "canary.yml"
    wf.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n")
    out = run([os.environ["ACTIONLINT"], str(wf)])
    report("canary: actionlint rejects a bad workflow", out.returncode != 0)
    df = work / "Dockerfile.canary"
    df.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    out = run([os.environ["HADOLINT"], "--failure-threshold", "info", str(df)])
    report("canary: hadolint rejects a bad Dockerfile", out.returncode != 0)
    out = run([HELM, "lint", "--strict", str(CHART), "--set", "runtime=k8s"])
    report("canary: helm lint --strict rejects a bad value", out.returncode != 0)


def main():
    with tempfile.TemporaryDirectory(prefix="errand-deploy-check.") as tmp:
        work = Path(tmp)
        check_lint()
        renders = render_profiles()
        check_kubernetes_schemas(renders)
        validators = dapr_validators()
        check_dapr_schemas(renders, validators)
        check_dapr_annotations(renders)
        check_monitoring(renders)
        check_checkov(renders, work)
        check_secrets_stay_secret(renders)
        check_dapr_files(renders)
        check_values_schema()
        check_workloads(renders)
        check_helm_test(renders)
        check_notes()
        check_observability()
        check_actionlint()
        check_workflow_policy()
        check_hadolint()
        check_shellcheck()
        check_against_errand(renders)
        check_kafka_config(renders)
        check_redis_config(renders)
        check_docker_context()
        check_canaries(validators, work)
    passed, failed = results.count(True), results.count(False)
    print(f"deploy-check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
