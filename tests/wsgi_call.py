"""Calling the project's WSGI application as a server does (gunicorn, granian), so a test
sees what the data plane's lean handler (serving/fast_path.py) answers."""

import io

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from control_plane.wsgi import application


def wsgi(method: str, path: str, body: bytes = b"", **headers) -> tuple[str, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "http", "HTTP_HOST": "testserver",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    answered = {}
    # As Django's test client does: keep the test's transaction on its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = application(environ, lambda status, hdrs: answered.update(status=status, headers=dict(hdrs)))
        content = b"".join(chunks)
        chunks.close()  # what the server does at the end of a response
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answered["status"], answered["headers"], content
