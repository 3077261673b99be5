"""The model name rule: what MLflow accepts, minus what cannot work here.

MLflow (3.17) accepts any name that is not blank, has no '/' or ':', and does not look
like a relative path ('.', or starting with '..'); its database column holds 256
characters. We accept exactly that, and also refuse the NUL character and unpaired
surrogates, which PostgreSQL cannot store as text. Names travel in URL path segments
quoted (spaces as %20, '#' as %23, ...); '/' is the one character a segment cannot
carry, which MLflow forbids as well.
"""

MODEL_NAME_MAX_LENGTH = 256
MODEL_NAME_RULE = (
    "Model names are 1 to 256 characters, not only whitespace, without '/', ':' or the NUL "
    "character, and neither '.' nor starting with '..'."
)


def model_name_problem(name) -> str | None:
    """Why `name` cannot be a model name, or None when it can."""
    if not isinstance(name, str) or not name.strip():
        return "The name is empty."
    if len(name) > MODEL_NAME_MAX_LENGTH:
        return f"The name is {len(name)} characters long; at most {MODEL_NAME_MAX_LENGTH} are allowed."
    for forbidden in ("/", ":"):
        if forbidden in name:
            return f"The name contains '{forbidden}'."
    if "\x00" in name:
        return "The name contains the NUL character."
    if any("\ud800" <= ch <= "\udfff" for ch in name):
        return "The name contains an unpaired surrogate (not valid Unicode text)."
    if name == "." or name.startswith(".."):
        return "The name is '.' or starts with '..' (a relative path)."
    return None
