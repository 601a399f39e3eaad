"""``python -m finsent.loopback``: serve the loopback Naver until interrupted."""

from finsent.loopback.server import main

main()
