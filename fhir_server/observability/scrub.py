"""Defence in depth: blank out anything in free text that looks like a credential.

Log messages and error reports must never carry tokens. Code should not put them there in the
first place; these patterns catch the mistakes (a bearer header echoed in an exception message,
an OAuth form body logged by a library, a JWT pasted into a message).
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[redacted]"

# (pattern, replacement) applied in order; each replacement keeps the label so the line still reads.
_CREDENTIAL_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\1\2{REDACTED}"),
    # A JWT (header.payload.signature, each base64url); the header always starts with '{"' = eyJ.
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*"), REDACTED),
    # key=value, key: value and "key": "value" forms of OAuth parameters and secrets.
    (
        re.compile(
            r"(?i)(\"?\b(?:access_token|refresh_token|id_token|client_assertion|client_secret|"
            r"password|code_verifier|authorization)\b\"?\s*[:=]\s*\"?)[^\"&\s,;]+"
        ),
        rf"\1{REDACTED}",
    ),
)


def scrub_credentials(text: str) -> str:
    """``text`` with every token-looking substring replaced by ``[redacted]``."""
    for pattern, replacement in _CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
