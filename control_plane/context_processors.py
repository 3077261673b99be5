from .roles import user_capabilities, user_roles


def roles(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"user_roles": sorted(user_roles(user)), "user_caps": user_capabilities(user)}
