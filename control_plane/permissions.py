from rest_framework import permissions

from . import token_scope
from .models import ApiToken
from .roles import READ, not_allowed, user_can


def _token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


class CanRead(permissions.BasePermission):
    """Authenticated with a role; tokens must not be serve-only; read-only tokens
    may only read. Views add their write capability with `requires(...)`."""

    message = "You do not have permission to perform this action."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        token = _token(request)
        if token is not None:
            if token.serve_only:
                self.message = "This token may only call the serving endpoints."
                return False
            if token.read_only and request.method not in permissions.SAFE_METHODS:
                self.message = "This token is read-only."
                return False
        if not user_can(request.user, READ):
            self.message = "Your account has no role; ask an admin for one."
            return False
        if "name" in view.kwargs:  # every /models/<name>/... URL
            token_scope.require_model(view.kwargs["name"])
        return True


def requires(*capabilities: str, methods: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")):
    """A permission class: CanRead, plus any one of `capabilities` for the given methods.
    Checked before the view runs, so a caller without the role hears 403 whatever the
    state of what it names."""

    class _Requires(CanRead):
        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            if request.method in methods and not any(user_can(request.user, c) for c in capabilities):
                self.message = not_allowed(capabilities[-1], request.user)
                return False
            return True

    _Requires.__name__ = f"Requires_{'_or_'.join(capabilities)}"
    return _Requires
