"""The local stack: ``finsent stack up|down|demo`` runs embedded Postgres, MLflow and Airflow as
processes on this machine (``runner``, ``processes``, ``log_server``), and the demos (``demo``,
``compose_demo``)."""
