"""Ingest: Naver boards, daily prices and CSV archives into `posts` and `prices`, politely and completely."""
