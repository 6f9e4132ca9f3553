"""JavaScript/TypeScript cryptography: broken hashes and ciphers named in the call
(`createHash('md5')`, `createCipher`, DES/RC4/ECB; CWE-327/328), certificate checks
turned off (`rejectUnauthorized: false`, `NODE_TLS_REJECT_UNAUTHORIZED = '0'`;
CWE-295), a secret compared with `===` (not in constant time; CWE-208), and a secret
written into the source as a literal (CWE-798)."""

from __future__ import annotations

import math
import re
from collections import Counter

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.js_common import arguments, callee, calls, is_constant, strip
from vulnsight.dataflow.syntax import walk

WEAK_HASH = Check(
    "weak-hash", "javascript", "CWE-328", "a broken hash (MD4/MD5/SHA-1) from createHash", 0.5
)
WEAK_CIPHER = Check(
    "weak-cipher",
    "javascript",
    "CWE-327",
    "a broken cipher or mode (createCipher, DES, RC4, ECB)",
    0.8,
)
TLS_OFF = Check(
    "tls-verification-off",
    "javascript",
    "CWE-295",
    "TLS certificate verification turned off",
    0.5,
)
TIMING = Check(
    "secret-compared-not-constant-time",
    "javascript",
    "CWE-208",
    "a secret or digest compared with ===, which stops at the first difference",
    0.67,
)
SECRET = Check(
    "hard-coded-secret",
    "javascript",
    "CWE-798",
    "a password, key or token written into the source",
    0.83,
)
_WEAK_HASHES = frozenset({"md4", "md5", "sha1", "sha-1", "ripemd", "ripemd160"})
_WEAK_CIPHER = re.compile(r"(?i)^(des|des-|des3|3des|rc2|rc4|bf|blowfish)|-ecb$|^(aes-\d+-)?ecb")
_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|passphrase|secret|api_?key|access_?key|private_?key|"
    r"auth_?token|access_?token|client_?secret|signature|hmac|digest)"
)
#: A value compared in constant time must be: a MAC, signature, digest or secret key.
_MAC_NAME = re.compile(r"(?i)(signature|hmac|digest|secret|api_?key|csrf|xsrf)")
#: What a fast hash must not be given: a password or another credential.
_CREDENTIAL = re.compile(r"(?i)(password|passwd|passphrase|pwd|secret|credential)")
#: Key formats that are secrets whatever they are named.
_KEY_FORMATS = re.compile(
    r"^(AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|gh[pousr]_[0-9A-Za-z]{36}|"
    r"xox[abpors]-[0-9A-Za-z\-]{10,}|sk_live_[0-9A-Za-z]{16,}|"
    r"-----BEGIN ((RSA|EC|DSA|OPENSSH) )?PRIVATE KEY-----)"
)
_COMPARE = frozenset({"===", "!==", "==", "!="})


def weak_crypto(reader: Reader, root: Node) -> list[Hit]:
    """`crypto.createHash('md5')`, `createCipher(...)`, `createCipheriv('des-...')`."""
    hits: list[Hit] = []
    for call in calls(root):
        name = callee(reader, call).rsplit(".", 1)[-1]
        args = arguments(call)
        algo = _literal(reader, args[0]).lower() if args else ""
        if name == "createHash" and algo in _WEAK_HASHES and _hashes_credential(reader, call):
            steps = [(call, f"{name}('{algo}')")]
            message = f"{algo.upper()} is a broken hash ({WEAK_HASH.cwe})"
            hits.append(reader.hit(WEAK_HASH, steps, message))
        elif name in ("createCipher", "createDecipher") and args:
            steps = [(call, f"{name}() derives key and IV from a password, without salt")]
            hits.append(reader.hit(WEAK_CIPHER, steps, f"{name}() is broken ({WEAK_CIPHER.cwe})"))
        elif name in ("createCipheriv", "createDecipheriv") and _WEAK_CIPHER.search(algo):
            steps = [(call, f"{name}('{algo}')")]
            message = f"{algo} is a broken cipher or mode ({WEAK_CIPHER.cwe})"
            hits.append(reader.hit(WEAK_CIPHER, steps, message))
    return hits


def _hashes_credential(reader: Reader, call: Node) -> bool:
    """Whether the data given to `.update()` of the hash names a password or secret."""
    node = call.parent
    while node is not None and node.type in ("member_expression", "call_expression", "arguments"):
        if node.type == "call_expression" and callee(reader, node).endswith(".update"):
            return any(_CREDENTIAL.search(reader.text(a)) for a in arguments(node))
        node = node.parent
    return False


def tls_verification_off(reader: Reader, root: Node) -> list[Hit]:
    """`rejectUnauthorized: false` and `NODE_TLS_REJECT_UNAUTHORIZED = '0'`."""
    hits: list[Hit] = []
    for node in walk(root):
        if node.type == "pair":
            key = node.child_by_field_name("key")
            value = strip(node.child_by_field_name("value"))
            if key is None or value is None or value.type != "false":
                continue
            if reader.text(key).strip("'\"") != "rejectUnauthorized":
                continue
        elif node.type == "assignment_expression":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if (
                left is None
                or right is None
                or "NODE_TLS_REJECT_UNAUTHORIZED" not in reader.text(left)
            ):
                continue
            if _literal(reader, right) != "0" and reader.text(right) != "0":
                continue
        else:
            continue
        steps = [(node, f"{reader.text(node)[:60]}: certificates are not checked")]
        message = f"TLS certificate verification is turned off ({TLS_OFF.cwe})"
        hits.append(reader.hit(TLS_OFF, steps, message))
    return hits


def secret_compared(reader: Reader, root: Node) -> list[Hit]:
    """`if (signature === expected)`: a value named as a secret or digest (or produced by
    `.digest()`) compared with a non-constant by a short-circuiting comparison."""
    hits: list[Hit] = []
    for node in walk(root):
        if node.type != "binary_expression":
            continue
        op = node.child_by_field_name("operator")
        left = strip(node.child_by_field_name("left"))
        right = strip(node.child_by_field_name("right"))
        if op is None or left is None or right is None or reader.text(op) not in _COMPARE:
            continue
        if is_constant(reader, left) or is_constant(reader, right):
            continue
        secret = next((s for s in (left, right) if _is_secret(reader, s)), None)
        if secret is None or any(_is_length_or_type(reader, s) for s in (left, right)):
            continue
        steps = [(node, f"{reader.text(secret)[:40]} is compared with {reader.text(op)}")]
        message = (
            f"{reader.text(secret)[:40]} is compared in non-constant time "
            f"(use crypto.timingSafeEqual) ({TIMING.cwe})"
        )
        hits.append(reader.hit(TIMING, steps, message))
    return hits


def _is_secret(reader: Reader, node: Node) -> bool:
    if node.type == "call_expression":
        return callee(reader, node).endswith(".digest")
    if node.type in ("identifier", "member_expression"):
        last = reader.text(node).rsplit(".", 1)[-1]
        return bool(_MAC_NAME.search(last))
    return False


def _is_length_or_type(reader: Reader, node: Node) -> bool:
    text = reader.text(node)
    return node.type == "unary_expression" or text.endswith((".length", ".type", ".algorithm"))


def hard_coded_secret(reader: Reader, root: Node) -> list[Hit]:
    """A string literal that looks like a real secret, stored under a secret's name,
    or in a known key format under any name."""
    hits: list[Hit] = []
    for node in walk(root):
        if node.type == "variable_declarator":
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type == "pair":
            target, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        elif node.type == "assignment_expression":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        else:
            continue
        value = strip(value)
        if target is None or value is None or value.type != "string":
            continue
        text = _literal(reader, value)
        name = reader.text(target).strip("'\"").rsplit(".", 1)[-1]
        known = bool(_KEY_FORMATS.match(text))
        if not known and not (_SECRET_NAME.search(name) and _looks_random(text)):
            continue
        steps = [(node, f"{name} is set to a literal secret")]
        message = f"{name} is a secret written into the source ({SECRET.cwe})"
        hits.append(reader.hit(SECRET, steps, message))
    return hits


def _looks_random(text: str) -> bool:
    """At least 12 characters, no spaces, several kinds of character and high entropy:
    a key, not a placeholder (`changeme`, `<password>`, `xxxxxxxx`) or a message."""
    if len(text) < 12 or re.search(r"[\s<>{}$%]", text):
        return False
    kinds = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    counts = Counter(text)
    entropy = -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())
    return kinds >= 2 and entropy >= 3.0


def _literal(reader: Reader, node: Node) -> str:
    """The text of a string literal without its quotes ('' for anything else)."""
    node = strip(node) or node
    if node.type not in ("string", "template_string"):
        return ""
    return reader.text(node)[1:-1]
