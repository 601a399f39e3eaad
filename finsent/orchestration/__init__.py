"""Orchestration: the steps Airflow runs, its support code, the Sentiment page, the local stack."""
