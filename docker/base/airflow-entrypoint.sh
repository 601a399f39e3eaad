#!/usr/bin/env bash
# The official image's entrypoint contract, the part finsent uses: `bash ARGS` and `python ARGS` run
# as they are, `airflow ARGS` and anything else run as `airflow ARGS`.
set -euo pipefail
case "${1:-}" in
    bash | sh) exec "$@" ;;
    python | python3) shift; exec python3 "$@" ;;
    airflow) shift ;;
esac
exec airflow "$@"
