"""What ships: the Serverless package (cfn-lint), the container's command, gunicorn's config, the demo.

No Docker engine runs here, so the image's ENTRYPOINT + CMD are run outside Docker, exactly as written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.stack import REPO, TEST_SECRET, Process, ServiceEnv, free_port, wait_http

BIN = Path(sys.executable).parent


def _run(args: list[str], *, timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def serverless_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npx = shutil.which("npx")
    assert npx, "npx is needed for the serverless check (Node.js 18+)"
    assert (REPO / "node_modules" / "serverless").is_dir(), "run `make test` (it runs npm ci) first"
    out = tmp_path_factory.mktemp("sls")
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "PYTHON_BIN": sys.executable}
    env = {k: v for k, v in env.items() if not k.startswith(("AWS_", "NANONETS_"))}
    done = _run([npx, "serverless", "package", "--stage", "ci", "--package", str(out)], env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.timeout(900)
def test_serverless_template_passes_cfn_lint(serverless_package: Path) -> None:
    template = serverless_package / "cloudformation-template-update-stack.json"
    lint = _run([str(BIN / "cfn-lint"), "--non-zero-exit-code", "error", str(template)])
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _template(serverless_package: Path) -> dict[str, Any]:
    return dict(json.loads((serverless_package / "cloudformation-template-update-stack.json").read_text()))


@pytest.mark.timeout(900)
def test_lambda_role_is_least_privilege_and_holds_no_secret(serverless_package: Path) -> None:
    resources = _template(serverless_package)["Resources"]
    statements = resources["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        if any(action.startswith("s3:") for action in actions):
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for arn in targets:
                # Objects only under a prefix; a bucket ARN only for listing, only with a prefix condition.
                assert arn.endswith(("/incoming/*", "/normalized/*", "/analytics/*", "/_state/*")) or (
                    actions == ["s3:ListBucket"] and "s3:prefix" in statement["Condition"]["StringLike"]
                ), statement
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 3
    for function in functions.values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert "NANONETS_API_KEY" not in variables and "WEBHOOK_SECRET" not in variables
        assert variables["NANONETS_API_KEY_SSM_PARAMETER"].startswith("/nanonets-ingest/ci/")
    assert all(
        r["Properties"]["RetentionInDays"] > 0
        for r in resources.values()
        if r["Type"] == "AWS::Logs::LogGroup"
    )


@pytest.mark.timeout(900)
def test_athena_table_reads_the_analytics_rows_with_partition_projection(serverless_package: Path) -> None:
    from service.core.analytics import COLUMNS

    resources = _template(serverless_package)["Resources"]
    table = resources["AnalyticsRowsTable"]["Properties"]["TableInput"]
    assert resources["AnalyticsRowsTable"]["Properties"]["DatabaseName"] == {"Ref": "AnalyticsDatabase"}
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == list(COLUMNS)
    assert (
        table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        == "org.openx.data.jsonserde.JsonSerDe"
    )
    location = table["StorageDescriptor"]["Location"]
    assert location.startswith("s3://") and location.endswith("/analytics/rows/")
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true" and parameters["projection.dt.format"] == "yyyy-MM-dd"
    template = "".join(parameters["storage.location.template"]["Fn::Join"][1])
    assert template == location + "dt=${dt}/"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    database = resources["AnalyticsDatabase"]["Properties"]["DatabaseInput"]["Name"]
    assert database == "nanonets_ingest_ci"


@pytest.mark.timeout(900)
def test_events_come_through_sqs_with_dlq_and_partial_batch_failures(serverless_package: Path) -> None:
    resources = _template(serverless_package)["Resources"]
    mapping = resources["EventsEventSourceMappingSQSUploadsQueue"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["UploadsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["UploadsDeadLetterQueue", "Arn"]}
    assert queue["VisibilityTimeout"] >= resources["EventsLambdaFunction"]["Properties"]["Timeout"]
    assert resources["EventsLambdaFunction"]["Properties"]["ReservedConcurrentExecutions"] >= 1
    assert resources["ReconcileEventsRuleSchedule1"]["Properties"]["ScheduleExpression"].startswith("rate(")


@pytest.mark.timeout(900)
def test_lambda_package_holds_the_service_and_its_dependencies_not_the_tests(
    serverless_package: Path,
) -> None:
    names = set(zipfile.ZipFile(serverless_package / "nanonets-ingest.zip").namelist())
    assert {"service/aws_lambda.py", "service/openapi.json", "samples/rules/fuel-receipts.yaml"} <= names
    assert any(n.startswith("apig_wsgi") for n in names)
    assert any(n.startswith("pydantic_core/") for n in names)
    assert not any(
        n.startswith(("tests/", "devtools/", "samples/documents/", "node_modules/", ".venv/")) for n in names
    )


@pytest.mark.timeout(900)
def test_lambda_package_ships_bytecode_for_every_module_and_the_json_rules_it_names(
    serverless_package: Path,
) -> None:
    """scripts/lambda_package.py ran (the local plugin): a Lambda cold start compiles nothing, as a
    timestamp-checked pyc pip wrote would never match the dates the zip gives its sources."""
    import importlib.util

    package = zipfile.ZipFile(serverless_package / "nanonets-ingest.zip")
    names = set(package.namelist())
    sources = [n for n in names if n.endswith(".py")]
    assert "service/aws_lambda.py" in sources and "botocore/client.py" in sources
    assert all(importlib.util.cache_from_source(n) in names for n in sources if n.startswith("service/"))
    pycs = [n for n in names if n.endswith(".pyc")]
    assert len(pycs) >= 0.95 * len(sources)
    # Flags 1: validated by hash, never checked against the source (PEP 552); 0 would be a timestamp.
    assert {int.from_bytes(package.read(n)[4:8], "little") for n in pycs} == {1}
    for function in _template(serverless_package)["Resources"].values():
        if function["Type"] == "AWS::Lambda::Function":
            rules = function["Properties"]["Environment"]["Variables"]["VALIDATION_RULES"]
            assert rules.endswith(".json") and rules in names
    assert "samples/routes.json" in names


@pytest.mark.timeout(900)
def test_alarms_and_dashboard_watch_the_metrics_the_service_publishes(serverless_package: Path) -> None:
    import re

    from service.observability.catalog import CATALOG, CLOUDWATCH_NAMESPACE
    from service.observability.emf import EXTRA_DIMENSION_SETS

    template = _template(serverless_package)
    resources = template["Resources"]
    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {
        "DeadLetterQueueNotEmptyAlarm",
        "OldestPendingTooOldAlarm",
        "NoWebhookAlarm",
        "NanonetsCreditExhaustedAlarm",
        "HttpErrorRateAlarm",
        "LambdaThrottlesAlarm",
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["AlarmDescription"]
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""  # no email unless DEPLOY_ALARM_EMAIL

    # Every metric of ours an alarm reads exists, with dimensions the EMF sink publishes.
    published = {spec.name: spec for spec in CATALOG}
    metrics = [alarm for alarm in alarms.values() if "MetricName" in alarm]
    metrics += [
        m["MetricStat"]["Metric"] for a in alarms.values() for m in a.get("Metrics", []) if "MetricStat" in m
    ]
    ours = [m for m in metrics if m["Namespace"] == CLOUDWATCH_NAMESPACE]
    assert {m["MetricName"] for m in ours} >= {
        "oldest_pending_age_seconds",
        "nanonets_calls_total",
        "pacing_quota_stopped",
    }
    for metric in ours:
        dimensions = tuple(sorted(d["Name"] for d in metric.get("Dimensions", [])))
        allowed = {
            (),
            published[metric["MetricName"]].labels,
            *EXTRA_DIMENSION_SETS.get(metric["MetricName"], ()),
        }
        assert dimensions in allowed, metric

    # The dashboard is JSON once substituted, and shows every metric of the catalogue.
    body, variables = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "1", body))
    text = json.dumps(dashboard)
    assert all(spec.name in text for spec in CATALOG)
    assert set(re.findall(r"\$\{(\w+)\}", body)) == set(variables)


def test_lambda_requirements_match_pyproject() -> None:
    import tomllib

    def names(lines: list[str]) -> set[str]:
        return {line.split(">")[0].split("<")[0].split("=")[0].strip().lower() for line in lines}

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lambda_lines = [
        line
        for line in (REPO / "requirements-lambda.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert names(lambda_lines) == names(project) - {"gunicorn", "tqdm", "prometheus-client"}
    assert set(lambda_lines) <= set(project)  # the same version ranges


@pytest.mark.timeout(300)
def test_wheel_holds_the_service_only_never_the_dev_tools(tmp_path: Path) -> None:
    # Built from a copy, so a stale build/ left in the working tree cannot smuggle old files in.
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "build", "*.egg-info", ".serverless", ".demo", "__pycache__"
        ),
    )
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("nanonets_ingest-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"service/aws_lambda.py", "service/openapi.json", "service/py.typed"} <= set(names)
    # the review console's pages come with it (package-data)
    assert {"service/review/templates/document.html", "service/review/static/review.js"} <= set(names)
    assert all(n.startswith(("service/", "nanonets_ingest-")) for n in names), names
    assert not any("emulator" in n or "devtools" in n for n in names)


# ---------------------------------------------------------------- container


def _dockerfile_command() -> list[str]:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    entry = next(json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("ENTRYPOINT "))
    cmd = next(json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("CMD "))
    return [*entry, *cmd]


def test_dockerfile_passes_hadolint_and_runs_as_non_root() -> None:
    lint = _run([str(BIN / "hadolint"), "Dockerfile"])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    text = (REPO / "Dockerfile").read_text()
    assert "\nUSER 10001\n" in text and "HEALTHCHECK" in text
    assert text.count("\nFROM ") == 2  # build and runtime stages
    for secret in ("NANONETS_API_KEY", "WEBHOOK_SECRET"):
        assert f"ENV {secret}" not in text and f"{secret}=" not in text


def _start(command: list[str], env: dict[str, str], log_path: Path, port: int) -> Process:
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    process = Process(url=f"http://127.0.0.1:{port}", popen=popen, log_path=log_path)
    try:
        wait_http(process.url + "/healthz", timeout=30)
    except RuntimeError:
        process.stop()
        raise AssertionError("did not start:\n" + process.log()) from None
    return process


def test_container_command_serves_json_logs_without_the_token(
    s3_url: str, emulator_url: str, tmp_path: Path
) -> None:
    command = _dockerfile_command()
    assert command[0] == "nanonets-ingest"
    command[0] = str(BIN / "nanonets-ingest")  # the console script, installed as in the image
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NANONETS_"))},
        **ServiceEnv(s3_url=s3_url, emulator_url=emulator_url).as_env(),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    process = _start(command, env, tmp_path / "container.log", port)
    try:
        assert requests.get(process.url + "/healthz", timeout=5).json() == {"status": "ok"}
        answer = requests.post(
            process.url + f"/webhooks/nanonets?token={TEST_SECRET}", data=b"not json", timeout=5
        )
        assert answer.status_code == 400
        wrong = requests.post(process.url + "/webhooks/nanonets?token=wrong-token-123", json={}, timeout=5)
        assert wrong.status_code == 401
    finally:
        process.stop()
    lines = [line for line in process.log().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is JSON, gunicorn's own included
    assert any(p.get("logger") == "gunicorn.error" for p in parsed)
    # One line per request: gunicorn's access line (the app's own is taken out by post_worker_init).
    [line] = [p for p in parsed if p.get("path") == "/webhooks/nanonets" and p.get("status") == 400]
    assert "remote" in line and "logger" not in line
    assert not [p for p in parsed if p.get("message") == "request"]
    assert TEST_SECRET not in process.log() and "wrong-token-123" not in process.log()
    workers = [p for p in parsed if "Booting worker" in str(p.get("message"))]
    assert len(workers) == 2  # WEB_CONCURRENCY is honoured


def test_gunicorn_config_loads_and_keeps_query_strings_out_of_access_lines() -> None:
    check = _run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:service.gunicorn_conf",
            "--check-config",
            "service.web:create_app()",
        ],
        env={
            **os.environ,
            "OUTPUT_BUCKET": "ingest-out",
            "NANONETS_API_KEY": "k",
            "NANONETS_MODEL_ID": "m",
            "WEBHOOK_SECRET": TEST_SECRET,
        },
    )
    assert check.returncode == 0, check.stdout + check.stderr
    from service import gunicorn_conf

    assert "%(q)s" not in gunicorn_conf.access_log_format and "%(r)s" not in gunicorn_conf.access_log_format
    assert gunicorn_conf.forwarded_allow_ips and gunicorn_conf.timeout > 0


# ---------------------------------------------------------------- demo


@pytest.mark.timeout(300)
def test_make_demo_finishes_every_sample() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NANONETS_", "DEMO_"))}
    env.pop("OUTPUT_BUCKET", None)
    done = _run([sys.executable, "-m", "scripts.demo", "--timeout", "120"], env=env, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    from scripts.make_samples import SAMPLE_DOCUMENTS

    documents = sorted(p.name for p in (REPO / "samples" / "documents").iterdir())
    route_of = {sample.name: sample.route for sample in SAMPLE_DOCUMENTS}
    assert sorted(route_of) == documents
    assert f"every sample finished: {len(documents)} outputs from 2 models" in done.stdout
    for name in documents:  # each type under its route's output prefix (samples/routes.yaml)
        assert f"normalized/{route_of[name]}/{name}.json" in done.stdout
    assert "route receipts:" in done.stdout and "route invoices:" in done.stdout
    assert "emulator-model" in done.stdout and "emulator-invoices" in done.stdout
    assert "failed (matricula:pattern_mismatch)" in done.stdout  # the table shows validation verdicts
    assert "analytics rows: " in done.stdout
