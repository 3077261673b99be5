import base64
import hashlib
import hmac

import pytest

from notifications.signing import SignatureError, sign, signed_headers, verify

SECRET = "a-plain-secret-of-enough-length"
BODY = b'{"id":"7","type":"promotion.approved"}'


def test_signature_is_base64_hmac_sha256_over_id_timestamp_body():
    expected = hmac.new(SECRET.encode(), b"msg_7.1700000000." + BODY, hashlib.sha256).digest()
    assert sign(secret=SECRET, msg_id="msg_7", timestamp=1700000000, body=BODY) == "v1," + base64.b64encode(expected).decode()


def test_whsec_secrets_use_the_decoded_key_like_standard_webhooks():
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = hmac.new(key, b"1.5." + BODY, hashlib.sha256).digest()
    assert sign(secret=secret, msg_id="1", timestamp=5, body=BODY) == "v1," + base64.b64encode(expected).decode()


def test_verify_accepts_a_fresh_signature_with_any_header_case():
    headers = signed_headers(secret=SECRET, msg_id="42", body=BODY, timestamp=1000)
    verify(secret=SECRET, headers={k.title(): v for k, v in headers.items()}, body=BODY, now=1100)


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: (h, b + b" "),  # body changed
        lambda h, b: ({**h, "webhook-id": "43"}, b),  # another id
        lambda h, b: ({**h, "webhook-timestamp": "1001"}, b),  # timestamp changed
        lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
    ],
)
def test_verify_rejects_tampering(change):
    headers, body = change(signed_headers(secret=SECRET, msg_id="42", body=BODY, timestamp=1000), BODY)
    with pytest.raises(SignatureError):
        verify(secret=SECRET, headers=headers, body=body, now=1000)


def test_verify_rejects_the_wrong_secret_and_stale_timestamps():
    headers = signed_headers(secret=SECRET, msg_id="42", body=BODY, timestamp=1000)
    with pytest.raises(SignatureError):
        verify(secret=SECRET + "x", headers=headers, body=BODY, now=1000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(secret=SECRET, headers=headers, body=BODY, now=1000 + 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(secret=SECRET, headers=headers, body=BODY, now=1000 - 301)


def test_verify_accepts_one_matching_signature_among_several():
    headers = signed_headers(secret=SECRET, msg_id="42", body=BODY, timestamp=1000)
    headers["webhook-signature"] = "v1,b2xkLXNlY3JldA== " + headers["webhook-signature"]
    verify(secret=SECRET, headers=headers, body=BODY, now=1000)


def test_the_readme_receiver_snippet_verifies_our_signatures():
    """The verification code the README gives receivers works on what we send."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    section = readme
    snippet = section.split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - our own documentation
    readme_verify = scope["verify"]
    other = "whsec_" + base64.b64encode(b"j" * 32).decode()
    for secret in (SECRET, "whsec_" + base64.b64encode(b"k" * 32).decode()):
        headers = {k.title(): v for k, v in signed_headers(secret=secret, msg_id="9", body=BODY).items()}
        assert readme_verify(secret, headers, BODY)
        assert not readme_verify(secret, headers, BODY + b"x")
        assert not readme_verify(other, headers, BODY)
