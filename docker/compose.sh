#!/usr/bin/env bash
# What `make compose-build|compose-up|compose-demo|compose-down` run: the compose stack on this host,
# also without an image registry, with compose v2 (`docker compose`) or Debian's v1 (`docker-compose`).
#
#   build        wheelhouse from this host's pip (its index, find-links, CA bundle, proxies), bases
#                (official, or local ones from docker/local-bases.sh when they cannot be pulled), images
#   up           build, start every service, wait until each is healthy (airflow-init: exited 0)
#   demo         up with the loopback Naver (profile demo), then the demo's DAG runs in service `demo`
#   start        up without the build (DEMO=1: with the demo's services and settings)
#   wait         wait until every service is healthy
#   down [-v]    stop and remove the containers (-v: the volumes too, i.e. every database)
#
# Settings (environment or .env): COMPOSE_PROJECT_NAME (finsent), FINSENT_AIRFLOW_PORT (8080),
# FINSENT_MLFLOW_PORT (5000), FINSENT_BASES=auto|official|local, FINSENT_TORCH_INDEX_URL (an extra
# index for the CPU torch wheel), FINSENT_GPU=auto|0|1 (build and run the CUDA worker),
# FINSENT_BUILD_DIR (.build: wheelhouse), FINSENT_WHEELHOUSE_PORT (53141), FINSENT_WAIT_S (900).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s compose: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 2; }

[ -f .env ] || die ".env is missing: run \`make env\` first (random secrets, mode 600)"
dotenv() { sed -n "s/^$1=//p" .env | tail -n1; }  # one key of .env (the environment wins, as in compose)
setting() { local v="${!1:-}"; [ -n "$v" ] || v=$(dotenv "$1"); echo "${v:-$2}"; }

PROJECT=$(setting COMPOSE_PROJECT_NAME finsent)
AIRFLOW_PORT=$(setting FINSENT_AIRFLOW_PORT 8080)
MLFLOW_PORT=$(setting FINSENT_MLFLOW_PORT 5000)
BUILD_DIR=$(setting FINSENT_BUILD_DIR "$PWD/.build")
WAIT_S=$(setting FINSENT_WAIT_S 900)
export COMPOSE_PROJECT_NAME=$PROJECT

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); V2=1
elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=(docker-compose); V2=0
else die "neither \`docker compose\` (v2) nor \`docker-compose\` (v1: apt-get install docker-compose) is installed"
fi
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd: docker/dockerd.sh start DIR)"

gpu_host() {
    case "$(setting FINSENT_GPU auto)" in
        1) return 0 ;; 0) return 1 ;;
        *) docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"' ;;
    esac
}

compose() {  # compose with the files and profiles of this host (and of the demo when DEMO=1)
    local files=(-f docker-compose.yml) profiles=()
    if [ "${DEMO:-0}" = 1 ]; then files+=(-f docker-compose.demo.yml); profiles+=(--profile demo); fi
    gpu_host || profiles+=(--profile gpu-on-cpu)
    "${COMPOSE[@]}" -p "$PROJECT" "${files[@]}" "${profiles[@]}" "$@"
}

services() {  # the long-running services to start: the GPU worker or its CPU stand-in, never `demo`
    compose config --services | grep -vx demo | if gpu_host; then grep -vx airflow-worker-gpu-on-cpu
                                                    else grep -vx airflow-worker-gpu; fi
}

# -- build ----------------------------------------------------------------------------------------

wheelhouse() {  # $1: directory, $2: extras; the host's pip resolves, so its settings apply as they are
    local dir=$1 extras=$2 extra_index=() stamp
    mkdir -p "$dir"
    [ -z "$(setting FINSENT_TORCH_INDEX_URL '')" ] || extra_index=(--extra-index-url "$(setting FINSENT_TORCH_INDEX_URL '')")
    python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        || die "the wheelhouse needs the images' Python (3.11) on this host: python3 is $(python3 -V 2>&1)"
    # resolving takes minutes: skip it while what it resolves from is unchanged
    stamp=$(cat constraints.txt pyproject.toml <(echo "$extras ${extra_index[*]}") \
                <(python3 -m pip config list 2>/dev/null) | sha256sum | cut -c1-16)
    if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then log "wheelhouse $dir is up to date"; return; fi
    log "wheelhouse $dir ($extras) with this host's pip settings"
    python3 -m pip download --quiet --disable-pip-version-check --dest "$dir" "${extra_index[@]}" \
        -c constraints.txt setuptools ".[$extras]" >"$dir.log" 2>&1 \
        || { grep -v "^WARNING: Location" "$dir.log" | tail -n 20 >&2; die "pip download failed (full log: $dir.log)"; }
    echo "$stamp" >"$dir/.stamp"
}

image_python_wheels() {  # what this host's Python (3.11.x) skips by marker and Debian's 3.11.2 needs
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$1" -c constraints.txt \
        'async-timeout>=4.0.3' >>"$1.log" 2>&1 || die "pip download async-timeout failed (log: $1.log)"
}

check_cpu_wheels() {  # no CUDA in the CPU image: a CUDA torch pulls nvidia-* wheels
    local dir=$1 cuda
    cuda=$(cd "$dir" && ls | grep -iE '^nvidia_|^triton-|^torch-[^+]*-' || true)
    [ -z "$cuda" ] || die "this host's pip resolves a CUDA torch for the CPU image ($(echo "$cuda" | head -n3 | tr '\n' ' ')); \
point FINSENT_TORCH_INDEX_URL at the CPU wheels (https://download.pytorch.org/whl/cpu) or a find-links directory with one"
}

serve() {  # serve a wheelhouse on 127.0.0.1 for the builds (--network host); sets PIP_ARGS
    local dir=$1 port
    # one port: the URL is a build argument, and a changed one misses the layer cache
    port=$(setting FINSENT_WHEELHOUSE_PORT 53141)
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        log "port $(setting FINSENT_WHEELHOUSE_PORT 53141) is taken: the wheelhouse is on $port (the layer cache misses)"
    fi
    python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$port" >/dev/null 2>&1 &
    SERVER_PID=$!
    trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    PIP_ARGS=(--network host --build-arg PIP_NO_INDEX=1 --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/"
              --build-arg PIP_TRUSTED_HOST=127.0.0.1)
}

base() {  # $1 kind, $2 official image: prints the image to build on, pulling or building as needed
    local kind=$1 official=$2 mode
    mode=$(setting FINSENT_BASES auto)
    if [ "$mode" != local ] && { docker image inspect "$official" >/dev/null 2>&1 \
            || timeout 300 docker pull -q "$official" >/dev/null 2>&1; }; then
        echo "$official"; return
    fi
    [ "$mode" != official ] || die "cannot pull $official (FINSENT_BASES=official)"
    log "cannot pull $official: using its local equivalent (built when missing)"
    docker/local-bases.sh "$kind" "${PIP_ARGS[@]}" >&2
    docker/local-bases.sh image "$kind"
}

remember() {  # the base images go into .env once: a database volume stays on the server it was made by
    local key=$1 value=$2
    if grep -q "^$key=" .env; then
        [ "$(dotenv "$key")" = "$value" ] || log "keeping $key=$(dotenv "$key") from .env (this build found $value)"
    else
        printf '%s=%s\n' "$key" "$value" >>.env
    fi
}

build() {
    local started=$SECONDS airflow_base cuda_args=() image bases_pid bases_log="$BUILD_DIR/bases.log"
    mkdir -p "$BUILD_DIR"
    # the Postgres and Redis bases need no wheels: they are pulled or built while pip resolves
    ( PIP_ARGS=(); base postgres postgres:16 >"$BUILD_DIR/postgres.image"
      base redis redis:7 >"$BUILD_DIR/redis.image" ) 2>"$bases_log" &
    bases_pid=$!
    wheelhouse "$BUILD_DIR/wheels" airflow
    image_python_wheels "$BUILD_DIR/wheels"
    check_cpu_wheels "$BUILD_DIR/wheels"
    wait "$bases_pid" || { tail -n 30 "$bases_log" >&2; die "the Postgres or Redis base failed (log: $bases_log)"; }
    grep -E 'compose: |^built ' "$bases_log" >&2 || true
    remember FINSENT_POSTGRES_IMAGE "$(cat "$BUILD_DIR/postgres.image")"
    remember FINSENT_REDIS_IMAGE "$(cat "$BUILD_DIR/redis.image")"
    serve "$BUILD_DIR/wheels"
    image=$(base airflow apache/airflow:3.3.2-python3.11) || exit 2
    remember FINSENT_AIRFLOW_BASE "$image"
    airflow_base=$(dotenv FINSENT_AIRFLOW_BASE)
    log "finsent-airflow on $airflow_base"
    docker build "${PIP_ARGS[@]}" --build-arg "AIRFLOW_BASE=$airflow_base" -f docker/Dockerfile \
        -t "finsent-airflow:$(setting FINSENT_IMAGE_TAG latest)" .
    if gpu_host; then
        kill "$SERVER_PID" 2>/dev/null || true
        FINSENT_TORCH_INDEX_URL=$(setting FINSENT_TORCH_GPU_INDEX_URL https://download.pytorch.org/whl/cu128) \
            wheelhouse "$BUILD_DIR/wheels-gpu" airflow,gpu
        image_python_wheels "$BUILD_DIR/wheels-gpu"
        serve "$BUILD_DIR/wheels-gpu"
        cuda_args=(--build-arg TORCH_CUDA=1 --build-arg EXTRAS=airflow,gpu)
        log "finsent-airflow-gpu on $airflow_base"
        docker build "${PIP_ARGS[@]}" "${cuda_args[@]}" --build-arg "AIRFLOW_BASE=$airflow_base" \
            -f docker/Dockerfile -t "finsent-airflow-gpu:$(setting FINSENT_IMAGE_TAG latest)" .
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    log "images built in $((SECONDS - started)) s"
}

# -- up, wait, demo, down -------------------------------------------------------------------------

wait_healthy() {  # every container of the project healthy, one-shot ones exited 0
    local deadline=$((SECONDS + WAIT_S)) pending id name state health code
    while :; do
        pending=()
        for id in $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"); do
            IFS='|' read -r name state health code < <(docker inspect --format \
                '{{index .Config.Labels "com.docker.compose.service"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}' "$id")
            [ "$name" != demo ] || continue
            if [ "$state" = exited ] && [ "$code" = 0 ] && [ "$name" = airflow-init ]; then continue; fi
            if [ "$state" = exited ] || [ "$state" = dead ]; then
                compose logs --tail 40 "$name" >&2 || true
                die "$name is $state, exit code $code: its log is above"
            fi
            # unhealthy is not final (a busy host starts Airflow slowly): wait until the deadline
            [ "$health" = healthy ] || pending+=("$name${health:+ ($health)}")
        done
        [ "${#pending[@]}" -gt 0 ] || break
        [ "$SECONDS" -lt "$deadline" ] || die "not healthy within ${WAIT_S}s: ${pending[*]} (\`docker logs\` them)"
        sleep 5
    done
    log "every service is healthy"
}

up() {
    local started=$SECONDS wait=()
    [ "$V2" = 0 ] || wait=(--wait)
    # shellcheck disable=SC2046  # one word per service
    compose up -d --no-build "${wait[@]}" $(services)
    wait_healthy
    log "up in $((SECONDS - started)) s"
}

urls() {
    local password
    password=$(compose exec -T airflow-apiserver cat /opt/airflow/secrets/passwords.json 2>/dev/null \
               | python3 -c 'import json, sys; print(json.load(sys.stdin).get("admin", "?"))' 2>/dev/null || echo "?")
    printf '\nfinsent (docker compose, project %s) is up\n' "$PROJECT"
    printf '  Airflow   http://127.0.0.1:%s  (login admin / %s)\n' "$AIRFLOW_PORT" "$password"
    printf '  Sentiment http://127.0.0.1:%s/finsent/sentiment  (in the UI: Browse -> Sentiment)\n' "$AIRFLOW_PORT"
    printf '  MLflow    http://127.0.0.1:%s\n  stop with `make compose-down` (volumes kept; -v removes them)\n' "$MLFLOW_PORT"
}

demo() {
    local started=$SECONDS
    DEMO=1 up
    DEMO=1 compose run --rm --no-deps -T demo
    urls
    log "demo in $((SECONDS - started)) s"
}

down() {
    DEMO=1 compose --profile gpu-on-cpu down --remove-orphans "$@"
}

case "${1:-}" in
    build) build ;;
    up) build; up; urls ;;
    start) up ;;
    demo) build; demo ;;
    down) shift; down "$@" ;;
    wait) wait_healthy ;;
    *) echo "usage: docker/compose.sh build|up|demo|down [-v]" >&2; exit 2 ;;
esac
