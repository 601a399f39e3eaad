"""``python -m finsent.ingest.loopback``: serve the loopback Naver until interrupted."""

from finsent.ingest.loopback.server import main

main()
