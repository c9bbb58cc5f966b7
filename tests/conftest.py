"""Shared fixtures: a sealed AWS environment, moto (in-process and as a server), read-only sessions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Every insert into the estate graph has its attributes' types checked against the declared
# schema (guardrails/schema.py), here and in every scan the tests start as a subprocess.
os.environ["GUARDRAILS_STRICT_SCHEMA"] = "1"

# Settings a moto backend reads when it starts, plus isolation from the developer's own AWS
# configuration: no test may ever reach a real account.
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
}
AWS_VARIABLES_TO_CLEAR = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL")


@pytest.fixture(scope="session", autouse=True)
def aws_test_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_VARIABLES_TO_CLEAR:
            patch.delenv(name, raising=False)
        for name, value in AWS_TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        import moto_extensions  # noqa: F401  (what moto does not answer, for every in-process moto)

        # Every boto3 session of a test worker reads the AWS service models through one loader:
        # botocore otherwise parses them again for each new session (over a second per estate the
        # tests build and collect), and the models are the same files whoever reads them.
        import botocore.loaders
        import botocore.session

        shared = botocore.loaders.create_loader()
        patch.setattr(botocore.session, "create_loader", lambda search_path_string=None: shared)
        yield


# The AWS managed policies tests attach. moto otherwise loads all ~1,600 into every account it
# touches, which costs seconds per test and changes nothing a scan sees.
MANAGED_POLICIES_USED = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "IAMFullAccess")


@pytest.fixture(scope="session")
def lean_moto_catalogues(tmp_path_factory) -> tuple[str, str]:
    """moto's catalogues cut to what tests use: the managed policies above, and moto's small
    built-in image list (which holds the builders' Ubuntu image) instead of thousands per region."""
    import json

    import moto.ec2.models.amis
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policies = json.dumps({name: doc for name, doc in json.loads(aws_managed_policies_data).items()
                           if name in MANAGED_POLICIES_USED})
    images = tmp_path_factory.mktemp("moto") / "amis.json"
    images.write_text(json.dumps(moto.ec2.models.amis.AMIS, default=str))
    return policies, str(images)


@pytest.fixture
def lean_moto(monkeypatch, lean_moto_catalogues) -> None:
    import moto.iam.models

    policies, images = lean_moto_catalogues
    monkeypatch.setattr(moto.iam.models, "aws_managed_policies_data", policies)
    monkeypatch.setenv("MOTO_AMIS_PATH", images)


@pytest.fixture
def aws(lean_moto) -> Iterator[object]:
    """An in-process moto AWS, empty at the start of each test."""
    from moto import mock_aws

    with mock_aws() as mock:
        yield mock


@pytest.fixture
def builder_session(aws):
    """The session tests build estates with; kept apart from the one the collector uses."""
    import boto3

    return boto3.Session(region_name="eu-west-1")


@pytest.fixture
def collector_session(aws):
    """A session whose clients fail the test on any call that is not a read (see read_only_session)."""
    from aws_builders import read_only_session

    return read_only_session()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer at {url} within {timeout:.0f}s")


@contextmanager
def running_moto_server(**environment: str | None) -> Iterator[str]:
    """A moto server on a free loopback port, with these changes to the environment (None unsets)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in {**os.environ, **environment}.items() if value is not None}
    # The server runs with what moto does not answer added (tests/moto_extensions.py).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (os.path.dirname(__file__), env.get("PYTHONPATH"))))
    process = subprocess.Popen(
        [sys.executable, "-m", "moto_extensions", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        # `-m` puts the working directory first on sys.path: from the checkout's root, its source
        # folder would shadow the installed package that the extensions import.
        cwd=os.path.dirname(__file__),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def moto_server_url(aws_test_environment) -> Iterator[str]:
    """A moto server on a free loopback port, for end-to-end runs through AWS_ENDPOINT_URL.

    Shared by the whole session: tests that use it call reset_moto_server() first.
    """
    with running_moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def lean_moto_server_url(aws_test_environment) -> Iterator[str]:
    """A moto server without AWS managed policies, for estates that attach none: with them, its
    first IAM call and every reset take seconds (~1,600 policies loaded and dropped)."""
    with running_moto_server(MOTO_IAM_LOAD_MANAGED_POLICIES=None) as url:
        yield url


def reset_moto_server(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=60):  # a loaded machine slows a reset, never hangs it
        pass


@pytest.fixture
def moto_server(moto_server_url) -> str:
    """The shared moto server, emptied for this test."""
    reset_moto_server(moto_server_url)
    return moto_server_url


@pytest.fixture
def lean_moto_server(lean_moto_server_url) -> str:
    """The shared moto server without managed policies, emptied for this test."""
    reset_moto_server(lean_moto_server_url)
    return lean_moto_server_url


# --- history databases: SQLite files and a throwaway PostgreSQL server on loopback -----------

POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)


def _as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: as root, run the server's commands as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for this test session (Debian's binaries), trusting local connections
    on a free loopback port; its URL without a database name. Stopped and removed at the end of the
    session."""
    import shutil
    import tempfile

    if not POSTGRES_BINARIES:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): .ci/run installs it")
    binaries = POSTGRES_BINARIES[0].parent
    # Not under pytest's temporary folders: as root those are closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="guardrails-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(_as_postgres_user([str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "gr"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(_as_postgres_user([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                                      "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                                      "start"]), check=True, stdout=subprocess.DEVNULL)
    try:
        yield f"postgresql://gr@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def history_db(request, tmp_path) -> str:
    """A new, empty history database for the test: an SQLite file, or a database of its own on
    the session's PostgreSQL server. The same tests run on both."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    import uuid

    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


# The shared Terraform samples, read in place beside the clone (they are not the project's to copy).
TERRAFORM_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "terraform-samples"


@pytest.fixture
def samples_dir() -> Path:
    """The samples beside the clone. CI lays them there, so there a missing folder is a failure, and
    a standalone clone skips these tests saying why."""
    if not TERRAFORM_SAMPLES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared Terraform samples are missing at {TERRAFORM_SAMPLES}; "
                        "CI lays shared/ beside the clone")
        pytest.skip(f"the shared Terraform samples are read in place from {TERRAFORM_SAMPLES}, which is absent "
                    "(a clone without shared/ beside it); set CI=1 to make this a failure")
    return TERRAFORM_SAMPLES
