# local/airflow:3.3.2-python3.11: what finsent needs of apache/airflow:3.3.2-python3.11, built from a
# debootstrapped Debian 12 (Python 3.11) for hosts that cannot pull it. The same contract: user
# `airflow` (uid 50000, gid 0), AIRFLOW_HOME=/opt/airflow, `pip install` as that user works, and the
# entrypoint runs `airflow ARGS` (api-server, scheduler, dag-processor, triggerer, celery worker),
# or bash/python ARGS as they are. pip reads PIP_* build arguments (the wheelhouse `make compose-build`
# serves), so nothing of the build host is baked in.
ARG DEBIAN_IMAGE=local/debian:bookworm
FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates curl dumb-init libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
 && mkdir -p /opt/airflow /opt/venv && chown airflow:0 /opt/airflow /opt/venv && chmod 775 /opt/airflow
ENV AIRFLOW_HOME=/opt/airflow AIRFLOW_USER_HOME_DIR=/home/airflow PATH=/opt/venv/bin:/home/airflow/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY docker/base/airflow-entrypoint.sh /entrypoint
USER airflow
ARG PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_NO_INDEX PIP_TRUSTED_HOST
COPY constraints.txt /tmp/constraints.txt
RUN python3 -m venv /opt/venv \
 && pip install --no-cache-dir --disable-pip-version-check -c /tmp/constraints.txt \
      apache-airflow==3.3.2 apache-airflow-providers-celery "celery[redis]" psycopg2-binary asyncpg \
 && airflow version
WORKDIR /opt/airflow
EXPOSE 8080
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []
