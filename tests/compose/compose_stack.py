"""A compose stack for the operator checks: a copy of this checkout (its own .env, project name and
ports, so a developer's stack and .env are never touched), driven by the same make targets and
commands an operator uses."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "finsenttest"


def engine_reason() -> str | None:
    """Why no compose stack can run here, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI (.ci/run installs docker.io and starts dockerd: docker/dockerd.sh)"
    try:
        info = subprocess.run(["docker", "info"], check=False, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer within 20 s"
    if info.returncode:
        return "no Docker engine answers (.ci/run starts one: docker/dockerd.sh start DIR)"
    v2 = subprocess.run(["docker", "compose", "version"], check=False, capture_output=True, timeout=20)
    if v2.returncode and shutil.which("docker-compose") is None:
        return "no docker compose (v2) nor docker-compose (v1: apt-get install docker-compose)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComposeStack:
    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.dir, self.log_dir = workdir, log_dir
        self.airflow_port, self.mlflow_port = free_port(), free_port()
        self.env = {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT, "FINSENT_AIRFLOW_PORT": str(self.airflow_port),
                    "FINSENT_MLFLOW_PORT": str(self.mlflow_port),
                    # one wheelhouse for every copy: a rerun downloads nothing
                    "FINSENT_BUILD_DIR": os.environ.get("FINSENT_BUILD_DIR", str(ROOT / ".build"))}
        v2 = subprocess.run(["docker", "compose", "version"], check=False, capture_output=True, timeout=20)
        self.compose_cmd = ["docker", "compose"] if v2.returncode == 0 else ["docker-compose"]

    @classmethod
    def copy_of_checkout(cls, base: Path) -> ComposeStack:
        """The tracked and untracked-but-not-ignored files, as a fresh clone would have them."""
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                                capture_output=True, timeout=60).stdout.decode().split("\0")
        workdir = base / "finsent"
        for name in filter(None, listed):
            source = ROOT / name
            if source.is_file():
                target = workdir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        return cls(workdir, base / "logs")

    # -- commands ------------------------------------------------------------------------------------

    def make(self, *target: str, timeout: float = 3600) -> subprocess.CompletedProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"make-{'-'.join(target)}.log"
        with log.open("w") as out:
            done = subprocess.run(["make", *target], cwd=self.dir, env=self.env, check=False, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        done.stdout = log.read_text()
        return done

    def compose(self, *args: str, timeout: float = 600, check: bool = True, stdin=None) -> str:
        command = [*self.compose_cmd, "-f", "docker-compose.yml", "-f", "docker-compose.demo.yml",
                   "--profile", "demo", "--profile", "gpu-on-cpu", *args]
        done = subprocess.run(command, cwd=self.dir, env=self.env, check=False, capture_output=True,
                              timeout=timeout, stdin=stdin)
        if check:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stderr.decode()[-3000:]}"
        return done.stdout.decode()

    def psql(self, sql: str, database: str = "finsent") -> str:
        return self.compose("exec", "-T", "postgres", "psql", "-U", "postgres", "-d", database, "-v",
                            "ON_ERROR_STOP=1", "-Atc", sql).strip()

    def counts(self) -> dict[str, int]:
        tables = ("posts", "prices", "labels", "post_scores", "daily_sentiment", "backtest_scores")
        return {t: int(self.psql(f"SELECT count(*) FROM {t}")) for t in tables}

    def containers(self) -> list[dict]:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.split()
        if not ids:
            return []
        return json.loads(subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True, text=True,
                                         timeout=60).stdout)

    def volumes(self) -> list[str]:
        project = f"label=com.docker.compose.project={PROJECT}"
        return subprocess.run(["docker", "volume", "ls", "-q", "--filter", project], check=True, capture_output=True,
                              text=True, timeout=60).stdout.split()

    def wait_healthy(self) -> None:
        done = subprocess.run(["docker/compose.sh", "wait"], cwd=self.dir, env=self.env, check=False,
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]

    # -- what an operator looks at --------------------------------------------------------------------

    def dotenv(self) -> dict[str, str]:
        lines = (self.dir / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    def env_mode(self) -> int:
        return stat.S_IMODE((self.dir / ".env").stat().st_mode)

    def admin_password(self) -> str:
        return json.loads(self.compose("exec", "-T", "airflow-apiserver", "cat",
                                       "/opt/airflow/secrets/passwords.json"))["admin"]

    def http(self, path: str, port: int | None = None, token: str | None = None,
             body: dict | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port or self.airflow_port}{path}",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def token(self) -> str:
        status, body = self.http("/auth/token", body={"username": "admin", "password": self.admin_password()})
        assert status in (200, 201), body
        return json.loads(body)["access_token"]

    def champion(self) -> int:
        from finsent.ml.registry import MODEL_NAME

        status, body = self.http(f"/api/2.0/mlflow/registered-models/alias?name={MODEL_NAME}&alias=champion",
                                 port=self.mlflow_port)
        assert status == 200, body
        return int(json.loads(body)["model_version"]["version"])
