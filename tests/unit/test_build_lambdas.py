"""The API zip build (scripts/build_lambdas.py) and the Terraform-set Lambda environment."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from export_api.settings import Settings
from export_common.keys import (
    ASSET_KEY_PREFIX,
    DEFAULT_WORK_EXPIRATION_DAYS,
    OUTPUT_KEY_PREFIX,
    WORK_KEY_PREFIX,
)
from export_common.limits import (
    DEFAULT_JOB_HEARTBEAT_SECONDS,
    DEFAULT_JOB_TTL_DAYS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_WORKER_MEMORY_MB,
    MAX_ATTEMPTS_LIMIT,
    PRESIGN_MAX_EXPIRY_SECONDS,
    SQS_MAX_DELAY_SECONDS,
    SQS_MAX_VISIBILITY_SECONDS,
)
from export_common.settings import ServiceSettings
from export_worker.metrics import ERROR_CODE_DIMENSION, METRICS_NAMESPACE, WorkerMetric
from export_worker.settings import WorkerSettings
from render import limits

ROOT = Path(__file__).resolve().parents[2]


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lambdas", ROOT / "scripts" / "build_lambdas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()


@pytest.fixture
def fake_deps(tmp_path: Path) -> Path:
    """A stand-in for the pip target directory (no network in unit tests)."""
    deps = tmp_path / "deps"
    (deps / "pydantic").mkdir(parents=True)
    (deps / "pydantic" / "__init__.py").write_text("VERSION = 'fake'\n")
    (deps / "pydantic" / "__pycache__").mkdir()
    (deps / "pydantic" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
    (deps / "boto3").mkdir()
    (deps / "boto3" / "__init__.py").write_text("")
    (deps / "bin").mkdir()
    (deps / "bin" / "tool").write_text("#!/bin/sh\n")
    return deps


def test_zip_is_deterministic_and_holds_only_what_the_api_needs(fake_deps: Path, tmp_path: Path) -> None:
    # Given the same inputs built twice
    entries = build.collect_entries(fake_deps)
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    build.write_zip(entries, first)
    build.write_zip(entries, second)

    # Then the archives are byte-identical
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    # and hold our packages, the pure request model, and the dependencies minus runtime-provided ones
    assert "export_common/__init__.py" in names
    assert "render/model.py" in names
    assert "pydantic/__init__.py" in names
    assert not any(n.startswith(("boto3/", "bin/")) or "__pycache__" in n for n in names)
    # and nothing of the render runtime (ffmpeg compile/run) is shipped
    assert not any(n in names for n in ("render/compiler.py", "render/executor.py", "render/pipeline.py"))
    # and of the client package only the signing rule: not its HTTP client (which needs requests)
    assert {n for n in names if n.startswith("video_export/")} == {
        "video_export/__init__.py",
        "video_export/py.typed",
        "video_export/signing.py",
    }


def test_zip_imports_the_signing_rule_with_the_standard_library_alone(
    fake_deps: Path, tmp_path: Path
) -> None:
    # Given the zip unpacked where nothing else is importable (no site-packages, no editable installs)
    build.write_zip(build.collect_entries(fake_deps), tmp_path / "api.zip")
    root = tmp_path / "unpacked"
    zipfile.ZipFile(tmp_path / "api.zip").extractall(root)
    check = (
        "import sys; sys.path[:0] = [sys.argv[1]]; "
        "import export_common.signing as s, video_export.signing as v; "
        "assert s.sign is v.sign and s.SIGNATURE_HEADER == 'x-base44-signature'; "
        "assert v.__file__.startswith(sys.argv[1]), v.__file__; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'urllib3')))"
    )

    # Then the API's signing module imports from the zip alone, and pulls in no HTTP client
    run = subprocess.run(
        [sys.executable, "-S", "-E", "-c", check, str(root)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_missing_first_party_module_is_reported(fake_deps: Path) -> None:
    # Given a zip that lacks a module our code imports at module level
    entries = build.collect_entries(fake_deps)
    del entries["render/limits.py"]

    # Then the check names the importer and the missing module
    problems = build.check_first_party_imports(entries)
    assert any("render.limits" in p for p in problems)


def test_zip_without_the_client_signing_module_is_reported(fake_deps: Path) -> None:
    entries = build.collect_entries(fake_deps)
    del entries["video_export/signing.py"]

    problems = build.check_first_party_imports(entries)
    assert any(p.startswith("export_common/signing.py: imports video_export.signing") for p in problems), (
        problems
    )


def test_complete_zip_passes_the_import_check(fake_deps: Path) -> None:
    assert build.check_first_party_imports(build.collect_entries(fake_deps)) == []


def _documented_env_vars() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Lambda environment variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))


def test_terraform_sets_exactly_the_documented_lambda_environment() -> None:
    main_tf = (ROOT / "terraform" / "modules" / "export_service" / "main.tf").read_text()
    block = main_tf.split("common_environment = {", 1)[1].split("\n}\n", 1)[0]
    set_by_terraform = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", block, flags=re.MULTILINE))
    assert set_by_terraform == _documented_env_vars()


MODULE = ROOT / "terraform" / "modules" / "export_service"


def _terraform_environment(name: str) -> set[str]:
    """Variable names of `local.<name>` in main.tf: the common block plus what the merge adds."""
    main_tf = (MODULE / "main.tf").read_text()
    common = main_tf.split("common_environment = {", 1)[1].split("\n  }\n", 1)[0]
    names = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", common, flags=re.MULTILINE))
    if name != "common_environment":
        added = main_tf.split(f"{name} = merge(local.common_environment, {{", 1)[1].split("\n  })", 1)[0]
        names |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", added, flags=re.MULTILINE))
    return names


def test_the_common_settings_mirror_terraforms_common_environment() -> None:
    """export_common.settings.ServiceSettings is the common_environment block, read by every function;
    the rest of that block configures Powertools, which reads it itself."""
    common = _terraform_environment("common_environment")
    model = {str(f.alias) for f in ServiceSettings.model_fields.values()}
    set_by_the_runtime = {"AWS_ENDPOINT_URL"}  # LocalStack's functions get it; AWS's need none
    assert model - set_by_the_runtime == {name for name in common if not name.startswith("POWERTOOLS_")} - {
        "LOG_LEVEL"
    }


def test_each_function_gets_every_setting_its_code_requires() -> None:
    api_required = {str(f.alias) for f in Settings.model_fields.values() if f.is_required()}
    worker_required = {str(f.alias) for f in WorkerSettings.model_fields.values() if f.is_required()}

    assert api_required <= _terraform_environment("api_environment")
    assert worker_required <= _terraform_environment("worker_environment")
    # the DLQ consumer parses the worker's settings too
    assert worker_required <= _terraform_environment("dlq_environment")
    assert "MAX_RECEIVE_COUNT" in _terraform_environment("dlq_environment")


def test_image_functions_name_handlers_that_exist() -> None:
    # Given every handler the module gives the worker image (image_config command and its default)
    text = (MODULE / "lambda.tf").read_text() + (MODULE / "variables.tf").read_text()
    handlers = set(re.findall(r'\["(export_worker\.[a-z_.]+)"\]', text))
    assert {"export_worker.handler.lambda_handler", "export_worker.handler.dlq_lambda_handler"} <= handlers

    # Then each one imports and is callable (the image's entry point and the local executor use them)
    for spec in handlers:
        module_name, function_name = spec.rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert callable(getattr(module, function_name, None)), spec


def _variable_defaults(variables_tf: Path) -> dict[str, str | None]:
    """Each variable's default as written (whitespace removed), None when it is required."""
    found = re.finditer(r'^variable "([^"]+)" \{\n(.*?)^\}', variables_tf.read_text(), re.M | re.S)
    defaults: dict[str, str | None] = {}
    for name, body in ((m[1], m[2]) for m in found):
        default = re.search(r"^  default\s*=\s*(.+)$", body, re.M)
        defaults[name] = re.sub(r"\s+", "", default[1]) if default else None
    return defaults


def _module_settings(main_tf: Path) -> dict[str, str]:
    """The one-line settings of a root's ``module "export_service"`` block (whitespace removed)."""
    block = main_tf.read_text().split('module "export_service" {', 1)[1].split("\n}", 1)[0]
    settings = re.findall(r"^  ([a-z0-9_]+)\s*=\s*(.+?)\s*(?:#.*)?$", block, re.M)
    return {name: re.sub(r"\s+", "", value) for name, value in settings if name != "source"}


@pytest.mark.parametrize("root", ["local", "prod"])
def test_the_roots_set_only_what_differs_from_the_module(root: str) -> None:
    """A root restates no module default: no literal equal to it, no pass-through variable defaulting to it
    (a root variable may default to null, which a module variable with ``nullable = false`` or a null
    default takes as its own default)."""
    module_variables = (MODULE / "variables.tf").read_text()
    module_defaults = _variable_defaults(MODULE / "variables.tf")
    root_dir = ROOT / "terraform" / "envs" / root
    root_defaults = _variable_defaults(root_dir / "variables.tf")
    settings = _module_settings(root_dir / "main.tf")
    assert {"name_prefix", "api_zip_path", "worker_image_uri"} <= set(settings)
    literal = re.compile(r'^(-?[0-9.]+|true|false|null|"[^"$]*"|\[[^$]*\]|\{\})$')
    for name, value in settings.items():
        assert name in module_defaults, f"envs/{root} sets {name}, which the module does not take"
        default = module_defaults[name]
        if literal.match(value):
            assert value != default, f"envs/{root} restates the module's default of {name} ({value})"
        elif (passed := value.removeprefix("var.")) in root_defaults and value.startswith("var."):
            root_default = root_defaults[passed]
            if root_default != "null":
                assert root_default != default, f"envs/{root}: variable {passed} restates the module's {name}"
            elif default != "null":
                block = module_variables.split(f'variable "{name}"', 1)[1].split("\n}", 1)[0]
                assert re.search(r"^  nullable\s*=\s*false$", block, re.M), (
                    f"envs/{root}: {passed} is null by default: module variable {name} needs nullable = false"
                )


def test_terraform_defaults_and_prefixes_agree_with_the_code() -> None:
    """Facts Terraform restates (it must, to grant and expire by prefix) are checked, not trusted."""
    module = ROOT / "terraform" / "modules" / "export_service"
    variables = (module / "variables.tf").read_text()
    main = (module / "main.tf").read_text()

    def default_of(name: str) -> int:
        block = variables.split(f'variable "{name}"', 1)[1].split("\n}", 1)[0]
        return int(re.search(r"^\s*default\s*=\s*(\d+)\s*$", block, re.M).group(1))  # type: ignore[union-attr]

    def local(name: str) -> str:
        return re.search(rf'^\s*{name}\s*=\s*"([^"]*)"', main, re.M).group(1)  # type: ignore[union-attr]

    assert default_of("max_upload_bytes") == DEFAULT_MAX_UPLOAD_BYTES
    assert default_of("job_ttl_days") == DEFAULT_JOB_TTL_DAYS
    assert local("assets_prefix") == ASSET_KEY_PREFIX
    assert local("exports_prefix") == OUTPUT_KEY_PREFIX
    # fan-out: the worker's defaults (WorkerSettings) and Terraform's are the render library's limits
    assert local("work_prefix") == WORK_KEY_PREFIX
    assert default_of("work_expiration_days") == DEFAULT_WORK_EXPIRATION_DAYS
    assert default_of("fanout_threshold_seconds") == limits.FANOUT_THRESHOLD_SECONDS
    assert default_of("fanout_max_chunks") == limits.FANOUT_MAX_CHUNKS
    assert default_of("fanout_min_chunk_seconds") == limits.FANOUT_MIN_CHUNK_SECONDS
    assert default_of("worker_memory_size") == DEFAULT_WORKER_MEMORY_MB
    # the worker cuts and the API quotes with the same settings, and both count GB-seconds alike
    for name in ("api_environment", "worker_environment"):
        assert {
            "FANOUT_THRESHOLD_SECONDS",
            "FANOUT_MAX_CHUNKS",
            "FANOUT_MIN_CHUNK_SECONDS",
            "WORKER_MEMORY_MB",
        } <= _terraform_environment(name)
    # the retry budget and the redrive safety net: one default each, in Python and in the module
    assert (
        default_of("max_attempts")
        == DEFAULT_MAX_ATTEMPTS
        == WorkerSettings.model_fields["max_attempts"].default
    )
    assert default_of("max_receive_count") == DEFAULT_MAX_RECEIVE_COUNT
    # the heartbeat: how soon a crash is taken over and a cancelled render stops
    assert (
        default_of("job_heartbeat_seconds")
        == DEFAULT_JOB_HEARTBEAT_SECONDS
        == WorkerSettings.model_fields["heartbeat_seconds"].default
    )
    assert "var.max_attempts <= 100" in variables and MAX_ATTEMPTS_LIMIT == 100
    # AWS limits the module's validations restate: SQS's visibility and delay, SigV4's presign lifetime
    assert f"<= {SQS_MAX_VISIBILITY_SECONDS}" in variables.split('variable "job_lease_seconds"', 1)[1]
    for name in ("upload_url_expiry_seconds", "download_url_expiry_seconds"):
        assert f"var.{name} <= {PRESIGN_MAX_EXPIRY_SECONDS}" in variables
    callback_watch = variables.split('variable "callback_watch_seconds"', 1)[1].split("\n}", 1)[0]
    assert f"<= {SQS_MAX_DELAY_SECONDS}" in callback_watch
    defaults = WorkerSettings.model_fields
    assert defaults["fanout_threshold_seconds"].default == limits.FANOUT_THRESHOLD_SECONDS
    assert defaults["fanout_max_chunks"].default == limits.FANOUT_MAX_CHUNKS
    assert defaults["fanout_min_chunk_seconds"].default == limits.FANOUT_MIN_CHUNK_SECONDS


def test_the_webhook_function_gets_its_settings_and_terraform_defaults_match_the_code() -> None:
    from export_callbacks import handler as callbacks_handler
    from export_callbacks.settings import CallbackSettings
    from export_common.callbacks import MIN_RETRY_WINDOW_SECONDS, CallbackSchedule

    required = {str(f.alias) for f in CallbackSettings.model_fields.values() if f.is_required()}
    assert required <= _terraform_environment("callbacks_environment")
    for name in ("api_environment", "worker_environment", "dlq_environment"):
        assert "CALLBACK_QUEUE_URL" in _terraform_environment(name)
    lambda_tf = (MODULE / "lambda.tf").read_text()
    assert 'handler          = "export_callbacks.handler.lambda_handler"' in lambda_tf
    assert callable(callbacks_handler.lambda_handler)

    variables = (MODULE / "variables.tf").read_text()

    def default_of(name: str) -> str:
        block = variables.split(f'variable "{name}"', 1)[1].split("\n}", 1)[0]
        return re.search(r"^\s*default\s*=\s*(.+?)\s*$", block, re.M).group(1)  # type: ignore[union-attr]

    fields = CallbackSettings.model_fields
    pairs = {
        "callback_first_delay_seconds": "first_delay_seconds",
        "callback_backoff_factor": "backoff_factor",
        "callback_max_delay_seconds": "max_delay_seconds",
        "callback_max_attempts": "max_attempts",
        "callback_watch_seconds": "watch_seconds",
        "callback_timeout_seconds": "timeout_seconds",
        "callback_max_response_bytes": "max_response_bytes",
    }
    for variable, field_name in pairs.items():
        assert float(default_of(variable)) == float(fields[field_name].default), variable
    assert default_of("callback_allowed_schemes") == '["https"]'
    assert default_of("callback_allowed_networks") == "[]"
    assert default_of("callback_allowed_ports") == "[]"
    # the code's own default schedule is the module's, and retries for more than a day
    schedule = CallbackSchedule()
    assert (
        schedule
        == CallbackSettings.model_validate(
            {
                "JOBS_TABLE_NAME": "t",
                "ASSETS_BUCKET_NAME": "a",
                "EXPORTS_BUCKET_NAME": "b",
                "WEBHOOK_SECRET_ARN": "a",
                "CALLBACK_QUEUE_URL": "q",
            }
        ).schedule()
    )
    assert schedule.window_seconds() >= MIN_RETRY_WINDOW_SECONDS
    # and production keeps the module's schedule and URL rules: it sets no schedule, and passes the URL
    # rules from root variables that default to null (the module's), for the LocalStack rehearsal to widen
    prod = ROOT / "terraform" / "envs" / "prod"
    settings = _module_settings(prod / "main.tf")
    url_rules = {"callback_allowed_schemes", "callback_allowed_networks", "callback_allowed_ports"}
    assert {name for name in settings if name.startswith("callback_")} == url_rules
    for name in url_rules:
        assert settings[name] == f"var.{name}"
        assert _variable_defaults(prod / "variables.tf")[name] == "null"


def test_the_dashboard_reads_the_metrics_the_worker_emits() -> None:
    """monitoring.tf names the worker's metrics by hand (JSON for CloudWatch); each must be one it emits."""
    variables = (MODULE / "variables.tf").read_text()
    monitoring = (MODULE / "monitoring.tf").read_text()
    block = variables.split('variable "powertools_metrics_namespace"', 1)[1].split("\n}", 1)[0]

    assert re.search(r'^\s*default\s*=\s*"([^"]+)"', block, re.M)[1] == METRICS_NAMESPACE  # type: ignore[index]
    assert re.search(r"^\s*ns\s*=\s*var\.powertools_metrics_namespace$", monitoring, re.M)
    named = set(re.findall(r'\[local\.ns, "(\w+)"', monitoring))
    searched = set(re.findall(r'MetricName=\\"(\w+)\\"', monitoring))
    # counts kept for the logs and ad-hoc queries, not drawn on the dashboard
    assert named | searched == {str(m) for m in WorkerMetric} - {
        WorkerMetric.MESSAGES_SKIPPED,
        WorkerMetric.POISON_MESSAGES,
        WorkerMetric.JOBS_FANNED_OUT,
        WorkerMetric.FANOUT_TASKS_DONE,
        WorkerMetric.JOBS_CANCELLED,
    }
    assert f"{{${{local.ns}},{ERROR_CODE_DIMENSION},service}}" in monitoring
