"""What a model version's source may point at (docs/security-egress.md): a local path only
under LOCAL_SOURCE_ROOTS, an http(s) URL only where the egress rule allows, never a scheme
that makes MLflow connect to a host nobody checked. Other URIs (models:/, runs:/, s3://, ...)
are read through the operator's tracking server or storage credentials and pass as given.

Checked at registration and again before a model is downloaded (rows may predate the rule)."""

from urllib.parse import urlsplit

from django.conf import settings

from control_plane import egress, local_files


def source_problem(source: str) -> str | None:
    """Why the server may not read `source`, naming no server path; None when it may."""
    path = local_files.local_path(source)
    if path is not None:
        if local_files.under_roots(path, settings.LOCAL_SOURCE_ROOTS) is None:
            return ("A local source must be an absolute path or file:// URI inside a folder allowed for model "
                    "sources (LOCAL_SOURCE_ROOTS).")
        return None
    parts = urlsplit(source.strip())
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return egress.url_problem(source)
    if scheme in local_files.UNSUPPORTED_SOURCE_SCHEMES:
        return f"{scheme}:// sources are not supported."
    if scheme == "mlflow-artifacts" and parts.netloc:  # names the artifact server to connect to
        return egress.url_problem(f"https://{parts.netloc}/")
    return None


def redact(text: str) -> str:
    """A library's message with server paths outside the source roots hidden."""
    return local_files.redact(text, settings.LOCAL_SOURCE_ROOTS)
