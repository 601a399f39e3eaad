"""Airflow glue: the steps the DAGs call (``tasks``) and Airflow's defaults, assets and operators
(``airflow_support``). Nothing here is imported by the library's other rooms."""
