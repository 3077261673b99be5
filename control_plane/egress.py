"""Every URL the server calls on a user's word goes through here (docs/security-egress.md).

Two checks, one rule:
- `check_url(url, field=...)` when the URL is configured (a channel, an import request):
  http(s) only, no credentials, no control characters, and every address the host resolves to
  must be public, unless the allow-list names it. Raises Invalid (422) naming the field.
- At send time, inside `guarded()`, each new connection resolves the host once, checks every
  address, and connects to the checked address itself: a DNS answer that changed since the
  configuration (DNS rebinding) cannot slip a private address in. Host header and TLS SNI
  still carry the name. `post(url, ...)` is a POST made that way.

The allow-list: EGRESS_ALLOWED_HOSTS (names; ".example.com" covers its subdomains) and
EGRESS_ALLOWED_NETWORKS (CIDRs, e.g. 127.0.0.0/8 for local development and the tests). The
hosts of MLFLOW_TRACKING_URI and MLFLOW_S3_ENDPOINT_URL are the operator's own: always allowed.
"""

import contextvars
import functools
import ipaddress
import os
import socket
import unicodedata
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
import urllib3.util.connection
from django.conf import settings

from control_plane.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000
SCHEMES = ("http", "https")
# Names that only ever mean "this machine" or a cloud's metadata service.
BLOCKED_NAMES = ("localhost", "metadata", "metadata.google.internal", "instance-data")
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class EgressRefused(Exception):
    """A URL or an address the egress rule refuses; the message says why, without secrets."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- The rule ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _networks(values: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _host(name: str) -> str:
    return name.strip("[]").rstrip(".").lower()


def host_allowed(host: str) -> bool:
    """Named by EGRESS_ALLOWED_HOSTS (exactly, or under a ".suffix"), or a host the operator
    configured for MLflow: the tracking server, the S3 endpoint of its artifacts."""
    host = _host(host)
    allowed = [_host(h) for h in settings.EGRESS_ALLOWED_HOSTS if h]
    for configured in (settings.MLFLOW_TRACKING_URI, os.environ.get("MLFLOW_S3_ENDPOINT_URL")):
        if urlsplit(configured or "").hostname:
            allowed.append(_host(urlsplit(configured).hostname))
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in allowed)


def allow_listed(host: str) -> bool:
    """The host is allow-listed by name, or is an address inside an allowed network."""
    if host_allowed(host):
        return True
    try:
        ip = ipaddress.ip_address(_host(host))
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in _networks(tuple(settings.EGRESS_ALLOWED_NETWORKS)))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    return None


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not _public(embedded):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def ip_allowed(ip: IPAddress) -> bool:
    networks = _networks(tuple(settings.EGRESS_ALLOWED_NETWORKS))
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and _embedded_ipv4(ip) is not None:
        candidates.append(_embedded_ipv4(ip))
    if any(c.version == n.version and c in n for c in candidates for n in networks):
        return True
    return _public(ip)


def _resolve(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def _checked_addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo's answers for host, all of them allowed, else EgressRefused."""
    infos = _resolve(host, port)
    if host_allowed(host):
        return infos
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not ip_allowed(ip):
            named = "" if _host(host) == str(ip) else f"{host} resolves to "
            raise EgressRefused(
                f"{named}{ip} is a loopback, private, link-local, multicast or reserved address "
                "(allow it with EGRESS_ALLOWED_HOSTS or EGRESS_ALLOWED_NETWORKS)."
            )
    return infos


def url_problem(url, *, resolve: bool = True) -> str | None:
    """Why `url` may not be called, or None. Names that do not resolve now pass (the check at
    send time applies to whatever they resolve to then). `resolve=False` checks the URL alone."""
    if not isinstance(url, str) or not url.strip():
        return "A URL is required."
    if len(url) > MAX_URL_LENGTH:
        return f"Longer than {MAX_URL_LENGTH} characters."
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") or c.isspace() for c in url.strip()):
        return "Contains a control character or white space (such as CR or LF)."
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        return "Only http:// and https:// URLs are allowed."
    if "@" in parts.netloc:
        return "Credentials in the URL are not allowed."
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return "The port is not a number from 0 to 65535."
    if not parts.hostname:
        return "Not an absolute URL."
    host = _host(parts.hostname)
    if host_allowed(host):
        return None
    if host in BLOCKED_NAMES or host.endswith(BLOCKED_SUFFIXES):
        return f"{host} names this machine or a metadata service."
    if not resolve:
        return None
    try:
        _checked_addresses(host, port)
    except EgressRefused as exc:
        return exc.message
    except (socket.gaierror, UnicodeError):
        return None
    return None


def check_url(url, *, field: str = "url") -> str:
    """The URL stripped, or Invalid (422) with `details={field: [why]}`."""
    problem = url_problem(url)
    if problem:
        raise Invalid(f"'{field}' is not allowed: {problem}", code="url_not_allowed", details={field: [problem]})
    return url.strip()


# --- At send time -----------------------------------------------------------------------------

_guarded = contextvars.ContextVar("egress_guarded", default=False)
_unguarded_create_connection = urllib3.util.connection.create_connection


def _create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, socket_options=None):
    """urllib3's create_connection; inside `guarded()` it resolves once, checks, and connects
    to the checked numeric address (so nothing resolves the name a second time)."""
    if not _guarded.get():
        return _unguarded_create_connection(address, timeout, source_address, socket_options)
    host, port = address
    error: OSError | None = None
    for info in _checked_addresses(_host(host), port):
        try:
            return _unguarded_create_connection(info[4][:2], timeout, source_address, socket_options)
        except OSError as exc:
            error = exc
    raise error or OSError(f"No address to connect to for {host}.")


urllib3.util.connection.create_connection = _create_connection


@contextmanager
def guarded():
    """Every HTTP connection opened through urllib3 (requests, the MLflow client) in this
    context is checked against the rule at connect time."""
    token = _guarded.set(True)
    try:
        yield
    finally:
        _guarded.reset(token)


def refusal_in(exc: BaseException) -> EgressRefused | None:
    """The EgressRefused behind an exception that a client library wrapped, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, EgressRefused):
            return exc
        seen.add(id(exc))
        exc = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    return None


def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
    """POST to a URL checked now and at connect time. No redirects are followed, no proxy from
    the environment is used. Raises EgressRefused, or requests' own exceptions."""
    problem = url_problem(url, resolve=False)  # the addresses are checked when connecting
    if problem:
        raise EgressRefused(problem)
    with requests.Session() as session, guarded():
        session.trust_env = False
        try:
            return session.post(url.strip(), data=data, headers=headers, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            refused = refusal_in(exc)
            if refused is not None:
                raise refused from None
            raise
