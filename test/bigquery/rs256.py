"""RS256 (RSA PKCS#1 v1.5 + SHA-256) verification for the local BigQuery server.

Standard library only: a minimal DER reader takes the RSA modulus and public
exponent out of a PEM public key ("PUBLIC KEY", as `openssl rsa -pubout`
writes it, or PKCS#1 "RSA PUBLIC KEY"), verify() checks a signature with
pow() as RFC 8017 section 8.2.2 says (the EMSA-PKCS1-v1_5 encoding compared
in full), and parse_jwt() splits a JWT.
"""

import base64
import hashlib
import hmac
import json
import re

RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
# DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")
_PEM_RE = re.compile(r"-----BEGIN ((?:RSA )?PUBLIC KEY)-----(.*?)-----END \1-----", re.S)


def _der_children(data):
    """The (tag, content) elements of a DER SEQUENCE's content, in order."""
    out = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            if not 0 < n <= 4:
                raise ValueError("bad DER length")
            length = int.from_bytes(data[pos:pos + n], "big")
            pos += n
        if pos + length > len(data):
            raise ValueError("truncated DER")
        out.append((tag, data[pos:pos + length]))
        pos += length
    return out


def _rsa_public(der, spki):
    """(n, e) from a SubjectPublicKeyInfo (spki) or a PKCS#1 RSAPublicKey."""
    (tag, body), = _der_children(der)
    kids = _der_children(body)
    if spki:
        # SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }
        if tag != 0x30 or len(kids) != 2 or kids[1][0] != 0x03 or not kids[1][1].startswith(b"\0"):
            raise ValueError("not a SubjectPublicKeyInfo")
        alg = _der_children(kids[0][1])
        if not alg or alg[0] != (0x06, RSA_OID):
            raise ValueError("not an RSA key (only RS256 is supported)")
        return _rsa_public(kids[1][1][1:], False)
    if tag != 0x30 or len(kids) < 2 or kids[0][0] != 0x02 or kids[1][0] != 0x02:
        raise ValueError("not an RSAPublicKey")
    return int.from_bytes(kids[0][1], "big"), int.from_bytes(kids[1][1], "big")


def load_public_keys(path):
    """Every RSA public key (n, e) in a PEM file."""
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    keys = []
    for label, b64 in _PEM_RE.findall(text):
        try:
            keys.append(_rsa_public(base64.b64decode("".join(b64.split()), validate=True),
                                    label == "PUBLIC KEY"))
        except ValueError as e:
            raise ValueError("%s: %s" % (path, e))
    if not keys:
        raise ValueError("%s: no PEM public key (make one with openssl rsa -pubout)" % path)
    return keys


def verify(key, message, signature):
    """True if signature is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of message."""
    n, e = key
    k = (n.bit_length() + 7) // 8
    t = SHA256_DIGESTINFO + hashlib.sha256(message).digest()
    if len(signature) != k or k < len(t) + 11:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(pow(s, e, n).to_bytes(k, "big"), expected)


def b64url_decode(s):
    if "=" in s or not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parse_jwt(token):
    """(header dict, claims dict, signing input bytes, signature bytes) or ValueError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three dot-separated parts")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header and claims must be JSON objects")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), b64url_decode(parts[2])
