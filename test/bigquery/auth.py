"""OAuth 2 for the local BigQuery server: access tokens, the JWT-bearer token
endpoint a service-account key's token_uri points at, and the GCE metadata
token endpoint.

Modes (--require-auth):
  none   API calls need no credential (an Authorization header is ignored).
  token  API calls need "Authorization: Bearer T", T issued by this server
         (POST /token, the metadata endpoint) and not expired, or given with
         --static-token.
  jwt    as token, and at least one --public-key must be given.
In every mode POST /token takes only a JWT whose RS256 signature verifies
with one of the --public-key files (none given: every grant is refused).

POST /token takes grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
and checks what Google checks of the JWT f1tel's sink signs (src/sink/jwt.c):
alg RS256, the signature, iss, aud (Google's token URL or this server's own
/token URL, which is the token_uri of the tests' key files), scope, and
iat/exp (exp - iat <= 3600, not expired, iat at most 5 minutes ahead).  It
answers {"access_token", "expires_in" (--token-lifetime), "token_type":
"Bearer"} or HTTP 400 {"error": "invalid_grant" | "invalid_scope" |
"invalid_request" | "unsupported_grant_type", "error_description": ...}.

Tokens expire by the server clock (Store.now(), movable with POST /_clock);
JWT iat/exp are checked against the real clock, which the client signs with.
"""

import secrets
import threading
import time
import urllib.parse

import rs256

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUD = "https://oauth2.googleapis.com/token"
TOKEN_PATH = "/token"
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
MAX_SKEW = 300

MSG_MISSING = ("Request is missing required authentication credential. Expected OAuth 2 access "
               "token, login cookie or other valid authentication credential. See "
               "https://developers.google.com/identity/sign-in/web/devconsole-project.")
MSG_INVALID = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
               "login cookie or other valid authentication credential. See "
               "https://developers.google.com/identity/sign-in/web/devconsole-project.")
MSG_TIMEFRAME = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                 "reasonable timeframe. Check your iat and exp values in the JWT claim.")


class GrantError(Exception):
    def __init__(self, error, description):
        Exception.__init__(self, description)
        self.error = error
        self.description = description


class AuthFailure:
    """An API call refused with 401: reason, message, and why (X-Local-Auth-Detail)."""

    def __init__(self, reason, message, detail):
        self.reason = reason
        self.message = message
        self.detail = detail


class Auth:
    def __init__(self, mode, key_files, token_lifetime, clock, static_tokens=()):
        self.mode = mode
        self.keys = [k for path in key_files for k in rs256.load_public_keys(path)]
        if mode == "jwt" and not self.keys:
            raise ValueError("--require-auth jwt needs at least one --public-key")
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.lock = threading.Lock()
        self.tokens = {t: float("inf") for t in static_tokens}  # token -> expiry (server clock)
        self.issued = 0

    def issue(self):
        token = "ya29.local-" + secrets.token_urlsafe(32)
        with self.lock:
            now = self.clock()
            if len(self.tokens) > 10000:
                self.tokens = {k: v for k, v in self.tokens.items() if v > now}
            self.tokens[token] = now + self.token_lifetime
            self.issued += 1
        return {"access_token": token, "expires_in": int(self.token_lifetime),
                "token_type": "Bearer"}

    def token_endpoint(self, content_type, body, own_urls):
        """(HTTP status, JSON dict) for POST /token."""
        try:
            return 200, self.grant(content_type, body, own_urls)
        except GrantError as e:
            return 400, {"error": e.error, "error_description": e.description}

    def grant(self, content_type, body, own_urls):
        if (content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise GrantError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        assertion = (form.get("assertion") or [""])[0]
        if grant != JWT_GRANT:
            raise GrantError("unsupported_grant_type", "Invalid grant_type: %s" % grant)
        if not assertion:
            raise GrantError("invalid_request", "Missing required parameter: assertion")
        try:
            header, claims, signing_input, sig = rs256.parse_jwt(assertion)
        except ValueError as e:
            raise GrantError("invalid_grant", "Invalid JWT: %s" % e)
        if header.get("alg") != "RS256" or not any(rs256.verify(k, signing_input, sig)
                                                   for k in self.keys):
            raise GrantError("invalid_grant", "Invalid JWT Signature.")
        if not isinstance(claims.get("iss"), str) or not claims["iss"]:
            raise GrantError("invalid_grant", "Invalid JWT: iss claim missing")
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (iat, exp)) \
                or not iat < exp <= iat + 3600 or exp <= now or iat > now + MAX_SKEW:
            raise GrantError("invalid_grant", MSG_TIMEFRAME)
        if claims.get("aud") != GOOGLE_AUD and claims.get("aud") not in own_urls:
            raise GrantError("invalid_grant", "Invalid JWT: Failed audience check. The right "
                             "audience is %s" % GOOGLE_AUD)
        if not isinstance(claims.get("scope"), str) or not claims["scope"].strip():
            raise GrantError("invalid_scope", "Empty or missing scope not allowed.")
        return self.issue()

    def check(self, authorization):
        """None if an API call may proceed, else an AuthFailure."""
        if self.mode == "none":
            return None
        if not authorization:
            return AuthFailure("required", MSG_MISSING, "no Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return AuthFailure("authError", MSG_INVALID, "Authorization is not Bearer")
        with self.lock:
            expiry = self.tokens.get(token.strip())
        if expiry is None:
            return AuthFailure("authError", MSG_INVALID, "unknown token")
        if self.clock() >= expiry:
            return AuthFailure("authError", MSG_INVALID, "token expired")
        return None
