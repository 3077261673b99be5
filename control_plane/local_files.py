"""Which server files a user's word may make us read (docs/security-egress.md).

One mechanism for every "path on the server" a user names: a model version's local source
(LOCAL_SOURCE_ROOTS), a reference data file (REFERENCE_DATA_ROOTS). A path is allowed when
its real path (symlinks and `..` resolved) lies under a real root. Messages never show a server
path outside the roots: `redact` replaces them in texts that come from libraries.
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# An absolute path in a library's message: after a quote, space, "(", "=" or "file://".
_PATH_IN_TEXT = re.compile(r"(?:file://)?(?<![\w.:/])/[^\s'\"(),;]+")
HIDDEN = "<server path>"
# Sources that make MLflow connect to a host we cannot check.
UNSUPPORTED_SOURCE_SCHEMES = {"ftp", "sftp", "gopher", "dict", "ldap", "tftp"}


def real_roots(roots) -> list[Path]:
    return [Path(os.path.realpath(root)) for root in roots if str(root)]


def under_roots(path: str | Path, roots) -> Path | None:
    """The real path of `path` when it is absolute and lies under one of `roots`, else None."""
    path = Path(path)
    if not path.is_absolute():
        return None
    real = Path(os.path.realpath(path))
    return real if any(real == root or real.is_relative_to(root) for root in real_roots(roots)) else None


def local_path(source: str) -> str | None:
    """The server path a model source names (a file: URI or a bare path), or None when the
    source is a URI of another kind. A file URI naming another host answers "" (never allowed)."""
    source = (source or "").strip()
    match = _SCHEME.match(source)
    if match is None:
        return source
    if match.group(1).lower() != "file":
        return None
    parts = urlsplit(source)
    if parts.netloc not in ("", "localhost"):
        return ""
    return unquote(parts.path)


def redact(text: str, roots) -> str:
    """`text` with every absolute path outside `roots` replaced by HIDDEN."""

    def keep_or_hide(match: re.Match) -> str:
        found = match.group(0)
        path = found[len("file://"):] if found.startswith("file://") else found
        if any(Path(os.path.normpath(path)).is_relative_to(root) for root in [*real_roots(roots), *map(Path, roots)]):
            return found
        return HIDDEN

    return _PATH_IN_TEXT.sub(keep_or_hide, text)
