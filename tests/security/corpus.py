"""Secret formats dflow must never keep or print, each built at run time (no real secret, and no
literal that a push-protection scanner would take for one)."""

from __future__ import annotations

import json

A = "A1b2C3d4E5f6G7h8J9k0"  # 20 mixed characters to build bodies from


def _body(n: int, alphabet: str = A) -> str:
    return (alphabet * (n // len(alphabet) + 1))[:n]


FORMATS: dict[str, str] = {
    "github classic": "gh" + "p_" + _body(36),
    "github oauth": "gh" + "o_" + _body(36),
    "github user-to-server": "gh" + "u_" + _body(36),
    "github server-to-server": "gh" + "s_" + _body(36),
    "github fine-grained": "github" + "_pat_" + _body(22) + "_" + _body(59),
    "gitlab pat": "gl" + "pat-" + _body(20),
    "gitlab runner": "gl" + "rt-" + _body(24),
    "openai": "s" + "k-" + _body(48),
    "openai project": "s" + "k-proj-" + _body(48),
    "anthropic": "s" + "k-ant-api03-" + _body(60),
    "aws key id": "AK" + "IA" + "IOSFODNN7EXAMPLE",
    "aws secret env": "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
    "aws secret json": json.dumps({"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/" + "bPxRf"
                                   + "iCYEXAMPLEKEY"}),
    "aws secret yaml": "aws_secret_access_key: " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEX" + "AMPLEKEY",
    "google api key": "AI" + "za" + _body(35),
    "slack bot": "xo" + "xb-" + "123456789012-1234567890123-" + _body(24),
    "slack user": "xo" + "xp-" + "123456789012-1234567890123-" + _body(24),
    "slack webhook": "https://hooks.slack" + ".com/services/T00000000/B00000000/" + _body(24),
    "stripe live": "sk" + "_live_" + _body(24),
    "stripe restricted": "rk" + "_live_" + _body(24),
    "jwt": "ey" + "JhbGciOiJIUzI1NiJ9." + "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0." + _body(43),
    "pem rsa": "-----BEGIN RSA PRIVATE" + " KEY-----\nMIIEowIBAAKCAQEA" + _body(64)
               + "\n-----END RSA PRIVATE KEY-----",
    "pem openssh": "-----BEGIN OPENSSH PRIVATE" + " KEY-----\nb3BlbnNzaC1rZXktdjEAAAA"
                   + _body(64) + "\n-----END OPENSSH PRIVATE KEY-----",
    "bearer header": "Authorization: Bearer " + _body(40),
    "basic header": "Authorization: Basic " + "dXNlcjpwYXNzd29yZA" + _body(8),
    "url credentials": "https://deploy:" + "Sup3r" + "S3cretPw@git.example.com/x.git",
    "npm": "np" + "m_" + _body(36),
    "pypi": "py" + "pi-AgEIcHlwaS5vcmc" + _body(60),
    "hugging face": "h" + "f_" + _body(34),
    "password assignment": "DB_PASSWORD=" + "correct-horse-" + "battery-staple",
}

# The part of each format that must not survive (the whole string for most of them).
def needle(name: str) -> str:
    value = FORMATS[name]
    for sep in ("=", ": ", "Bearer ", "Basic "):
        if name in ("aws secret env", "aws secret yaml", "password assignment",
                    "bearer header", "basic header") and sep in value:
            return value.split(sep, 1)[1]
    if name == "aws secret json":
        return str(json.loads(value)["aws_secret_access_key"])
    if name == "url credentials":
        return "Sup3rS3cretPw"
    if name.startswith("pem"):
        return value.splitlines()[1]
    return value


def contexts(secret: str) -> dict[str, str]:
    """The same secret as agents and tools print it."""
    return {
        "raw": f"token {secret} here",
        "after newline": f"line one\n{secret}",
        "after tab": f"key:\t{secret}",
        "json escaped": json.dumps({"text": f"a\n{secret}\tb"}),
        "json after escaped newline": json.dumps("a\n" + secret),
        "letters unicode-escaped": '{"text": "a ' + "".join(
            f"\\u{ord(c):04x}" if i % 3 == 0 else c for i, c in enumerate(secret)) + '"}',
        "in a title": f"Step 2: rotate {secret}",
        "in an error": f"error: invalid value {secret!r} for --token",
        "in a verdict": json.dumps({"verdict": "FAIL", "summary": f"saw\t{secret}",
                                    "findings": [f"line 3:\n{secret}"]}),
    }


ZW = "\u200b"


def encodings(secret: str) -> dict[str, str]:
    """The same secret spelled so that no pattern sees it as written."""
    cut = len(secret) // 2
    return {
        "as written": secret,
        "percent-encoded": "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in secret),
        "zero-width-split": ZW.join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "line-split": secret[:cut] + "\n" + secret[cut:],
    }


def normalized(text: str) -> str:
    """What a reader of `text` would reassemble: percent escapes decoded, invisible characters
    and line breaks dropped (the needle must not be found in this either)."""
    import urllib.parse

    return urllib.parse.unquote(text).replace(ZW, "").replace("\n", "").replace("\\n", "")
