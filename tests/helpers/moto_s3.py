"""A loopback S3 endpoint for tests: moto's threaded server on 127.0.0.1 at a free port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def moto_s3_endpoint() -> Iterator[str]:
    """Run moto's S3 server for the duration of the block and yield its URL.

    Dummy credentials are put in the environment (unless already set) so that boto3 clients built
    without explicit keys can sign their requests.
    """
    from moto.server import ThreadedMotoServer

    for name, value in TEST_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
