"""RS256 (RSA PKCS#1 v1.5 + SHA-256) verification for the local BigQuery server.

Standard library only: a minimal DER reader extracts the RSA modulus and
public exponent from a PEM file (SubjectPublicKeyInfo "PUBLIC KEY", PKCS#1
"RSA PUBLIC KEY", PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" or an X.509
"CERTIFICATE"), and verify() checks a signature with pow(), as RFC 8017
section 8.2.2 describes (EMSA-PKCS1-v1_5 encoding compared in full).

Also loads a Google service-account key file (JSON with private_key,
client_email, private_key_id), so the server can bind a key to its account.
"""

import base64
import hashlib
import hmac
import json
import re

RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
# DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


class KeyError_(ValueError):
    """A key file that cannot be used."""


def _der_read(data, pos):
    """One DER element at pos: (tag, content bytes, position after it)."""
    if pos + 2 > len(data):
        raise KeyError_("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise KeyError_("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise KeyError_("truncated DER")
    return tag, data[pos:pos + length], pos + length


def _der_children(content):
    out = []
    pos = 0
    while pos < len(content):
        tag, body, pos = _der_read(content, pos)
        out.append((tag, body))
    return out


def _int(body):
    return int.from_bytes(body, "big")


def _rsa_from_pkcs1_public(der):
    tag, body, _ = _der_read(der, 0)
    kids = _der_children(body)
    if tag != 0x30 or len(kids) < 2 or kids[0][0] != 0x02 or kids[1][0] != 0x02:
        raise KeyError_("not an RSAPublicKey")
    return _int(kids[0][1]), _int(kids[1][1])


def _rsa_from_pkcs1_private(der):
    tag, body, _ = _der_read(der, 0)
    kids = _der_children(body)
    if tag != 0x30 or len(kids) < 3 or any(k[0] != 0x02 for k in kids[:3]):
        raise KeyError_("not an RSAPrivateKey")
    return _int(kids[1][1]), _int(kids[2][1])


def _rsa_from_spki_body(kids):
    # SubjectPublicKeyInfo: SEQ { SEQ { OID, params }, BIT STRING }
    if len(kids) < 2 or kids[0][0] != 0x30 or kids[1][0] != 0x03:
        raise KeyError_("not a SubjectPublicKeyInfo")
    alg = _der_children(kids[0][1])
    if not alg or alg[0][0] != 0x06 or alg[0][1] != RSA_OID:
        raise KeyError_("not an RSA key (only RS256 is supported)")
    bits = kids[1][1]
    if not bits or bits[0] != 0:
        raise KeyError_("bad BIT STRING")
    return _rsa_from_pkcs1_public(bits[1:])


def _rsa_from_spki(der):
    tag, body, _ = _der_read(der, 0)
    if tag != 0x30:
        raise KeyError_("not a SubjectPublicKeyInfo")
    return _rsa_from_spki_body(_der_children(body))


def _rsa_from_pkcs8(der):
    tag, body, _ = _der_read(der, 0)
    kids = _der_children(body)
    if tag != 0x30 or len(kids) < 3 or kids[2][0] != 0x04:
        raise KeyError_("not a PKCS#8 PrivateKeyInfo (encrypted keys are not supported)")
    alg = _der_children(kids[1][1])
    if not alg or alg[0][1] != RSA_OID:
        raise KeyError_("not an RSA key (only RS256 is supported)")
    return _rsa_from_pkcs1_private(kids[2][1])


def _rsa_from_certificate(der):
    tag, body, _ = _der_read(der, 0)
    cert = _der_children(body)
    if tag != 0x30 or not cert or cert[0][0] != 0x30:
        raise KeyError_("not an X.509 certificate")
    for ktag, kbody in _der_children(cert[0][1]):
        if ktag == 0x30:
            try:
                return _rsa_from_spki_body(_der_children(kbody))
            except KeyError_:
                continue
    raise KeyError_("no RSA public key in certificate")


_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)

_LOADERS = {
    "PUBLIC KEY": _rsa_from_spki,
    "RSA PUBLIC KEY": _rsa_from_pkcs1_public,
    "RSA PRIVATE KEY": _rsa_from_pkcs1_private,
    "PRIVATE KEY": _rsa_from_pkcs8,
    "CERTIFICATE": _rsa_from_certificate,
}


def rsa_keys_from_pem(text):
    """Every RSA (n, e) found in the PEM text, in order."""
    keys = []
    for label, b64 in _PEM_RE.findall(text):
        loader = _LOADERS.get(label)
        if loader is None:
            continue
        try:
            der = base64.b64decode("".join(b64.split()), validate=True)
        except ValueError as exc:
            raise KeyError_("bad base64 in PEM %s: %s" % (label, exc))
        keys.append(loader(der))
    return keys


class PublicKey:
    """An RSA public key, with the service account it belongs to if known."""

    def __init__(self, n, e, source, client_email=None, key_id=None):
        self.n = n
        self.e = e
        self.source = source
        self.client_email = client_email
        self.key_id = key_id

    def verify(self, message, signature):
        return verify(self.n, self.e, message, signature)


def load_key_file(path):
    """PublicKeys from a PEM file or a service-account JSON key file."""
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    stripped = text.lstrip()
    if stripped.startswith("{"):
        info = json.loads(text)
        pem = info.get("private_key") or info.get("public_key") or ""
        found = rsa_keys_from_pem(pem)
        if not found:
            raise KeyError_("%s: no RSA key in private_key" % path)
        return [PublicKey(n, e, path, info.get("client_email"), info.get("private_key_id"))
                for n, e in found]
    found = rsa_keys_from_pem(text)
    if not found:
        raise KeyError_("%s: no RSA key found (PEM expected)" % path)
    return [PublicKey(n, e, path) for n, e in found]


def verify(n, e, message, signature):
    """True if signature is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of message."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k or k < 64:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGESTINFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    if b"=" in s or not re.fullmatch(rb"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def parse_jwt(token):
    """(header dict, claims dict, signing input bytes, signature bytes) or ValueError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three dot-separated parts")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header and claims must be JSON objects")
    sig = b64url_decode(parts[2])
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), sig
