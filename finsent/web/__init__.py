"""The Sentiment page served inside the Airflow UI: its SQL (``queries``), MLflow summaries
(``summaries``), rendering (``page``, ``overview``, ``charts``) and the Models view (``models``)."""
