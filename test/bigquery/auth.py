"""OAuth 2 for the local BigQuery server: access tokens, the JWT-bearer token
endpoint and a GCE-metadata-like token endpoint.

Modes (--require-auth):
  none   API calls need no credential (any Authorization header is ignored).
  token  API calls need "Authorization: Bearer T" with T issued by this server
         (POST /token, the metadata endpoint) or given with --static-token,
         not expired; or a self-signed JWT verified against --public-key.
  jwt    as token, and POST /token must carry a JWT whose RS256 signature
         verifies against one of the --public-key files (required).

POST /token (also /oauth2/v4/token, /o/oauth2/token) takes the form
grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT and checks
what Google checks: alg RS256, signature, iss (the key's client_email when the
key file is a service-account JSON), aud (Google's token URLs or this server's
own /token URL), scope present, iat/exp (exp - iat <= 3600, not expired, iat
not in the future by more than 5 minutes).  It answers {"access_token",
"expires_in" (--token-lifetime), "token_type": "Bearer"} or HTTP 400
{"error": "invalid_grant" | "invalid_scope" | "invalid_request" |
"unsupported_grant_type", "error_description": ...}.

Tokens expire by the server clock (Store.now(), movable with POST /_clock);
JWT iat/exp are checked against the real clock, as the client signs with it.
"""

import secrets
import threading
import time
import urllib.parse

import rs256

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDS = ("https://oauth2.googleapis.com/token",
               "https://www.googleapis.com/oauth2/v4/token",
               "https://accounts.google.com/o/oauth2/token")
SELF_SIGNED_AUDS = ("https://bigquery.googleapis.com/", "https://bigquery.googleapis.com",
                    "https://www.googleapis.com/bigquery/v2/")
BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery",
                   "https://www.googleapis.com/auth/cloud-platform",
                   "https://www.googleapis.com/auth/bigquery.insertdata")
TOKEN_PATHS = ("/token", "/oauth2/v4/token", "/o/oauth2/token")
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


class AuthFailure(Exception):
    """An API call refused: (status, reason, message, detail)."""

    def __init__(self, status, reason, message, detail):
        Exception.__init__(self, message)
        self.status = status
        self.reason = reason
        self.message = message
        self.detail = detail


class Auth:
    def __init__(self, mode, key_files, token_lifetime, clock, static_tokens=(), project="local"):
        self.mode = mode
        self.keys = []
        for path in key_files:
            self.keys.extend(rs256.load_key_file(path))
        if mode == "jwt" and not self.keys:
            raise ValueError("--require-auth jwt needs at least one --public-key")
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.lock = threading.Lock()
        self.tokens = {}               # token -> (expiry by server clock, subject, scopes)
        for t in static_tokens:
            self.tokens[t] = (float("inf"), "static", BIGQUERY_SCOPES)
        self.project = project
        self.issued = 0

    # issuing
    def issue(self, subject, scopes):
        token = "ya29.local-" + secrets.token_urlsafe(32)
        with self.lock:
            now = self.clock()
            self.tokens[token] = (now + self.token_lifetime, subject, tuple(scopes))
            self.issued += 1
            if len(self.tokens) > 10000:
                self.tokens = {k: v for k, v in self.tokens.items() if v[0] > now}
        return {"access_token": token, "expires_in": int(self.token_lifetime),
                "token_type": "Bearer"}

    def token_endpoint(self, content_type, body, own_urls):
        """(HTTP status, JSON dict) for POST /token."""
        try:
            return 200, self._grant(content_type, body, own_urls)
        except GrantError as e:
            return 400, {"error": e.error, "error_description": e.description}

    def _grant(self, content_type, body, own_urls):
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise GrantError("invalid_request",
                             "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                         strict_parsing=False)
        except UnicodeDecodeError:
            raise GrantError("invalid_request", "Request body is not UTF-8")
        grant = (form.get("grant_type") or [""])[0]
        if not grant:
            raise GrantError("invalid_request", "Missing required parameter: grant_type")
        if grant != JWT_GRANT:
            raise GrantError("unsupported_grant_type", "Invalid grant_type: %s" % grant)
        assertion = (form.get("assertion") or [""])[0]
        if not assertion:
            raise GrantError("invalid_request", "Missing required parameter: assertion")
        claims, key = self.verify_jwt(assertion, grant=True)
        aud = claims.get("aud")
        if aud not in GOOGLE_AUDS and aud not in own_urls:
            raise GrantError("invalid_grant", "Invalid JWT: Failed audience check. The right "
                             "audience is https://oauth2.googleapis.com/token")
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.strip():
            raise GrantError("invalid_scope", "Empty or missing scope not allowed.")
        return self.issue(claims.get("iss"), scope.split())

    def verify_jwt(self, token, grant):
        """(claims, key) of a JWT that verifies; GrantError otherwise."""
        try:
            header, claims, signing_input, sig = rs256.parse_jwt(token)
        except (ValueError, UnicodeDecodeError) as e:
            raise GrantError("invalid_grant", "Invalid JWT: %s" % e)
        if header.get("alg") != "RS256":
            raise GrantError("invalid_grant", "Invalid JWT Signature.")
        key = None
        if self.keys:
            candidates = self.keys
            kid = header.get("kid")
            if kid is not None and any(k.key_id for k in self.keys):
                by_kid = [k for k in self.keys if k.key_id == kid]
                candidates = by_kid or [k for k in self.keys if not k.key_id]
            for k in candidates:
                if k.verify(signing_input, sig):
                    key = k
                    break
            if key is None:
                raise GrantError("invalid_grant", "Invalid JWT Signature.")
        elif self.mode == "jwt":
            raise GrantError("invalid_grant", "Invalid JWT Signature.")
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise GrantError("invalid_grant", "Invalid JWT: iss claim missing")
        if key is not None and key.client_email and iss != key.client_email:
            raise GrantError("invalid_grant", "Invalid grant: account not found")
        iat, exp = claims.get("iat"), claims.get("exp")
        real_now = time.time()
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) \
                or isinstance(iat, bool) or isinstance(exp, bool) \
                or exp - iat > 3600 or exp <= iat or exp <= real_now or iat > real_now + MAX_SKEW:
            raise GrantError("invalid_grant", MSG_TIMEFRAME)
        return claims, key

    def metadata_token(self):
        return self.issue("default@%s.iam.gserviceaccount.com" % self.project, BIGQUERY_SCOPES)

    # checking API calls
    def check(self, authorization):
        """None if the call may proceed, else AuthFailure."""
        if self.mode == "none":
            return None
        if not authorization:
            return AuthFailure(401, "required", MSG_MISSING, "no Authorization header")
        parts = authorization.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return AuthFailure(401, "authError", MSG_INVALID, "Authorization is not Bearer")
        token = parts[1].strip()
        with self.lock:
            entry = self.tokens.get(token)
        if entry is not None:
            expiry, _subject, scopes = entry
            if self.clock() >= expiry:
                return AuthFailure(401, "authError", MSG_INVALID, "token expired")
            if not any(s in BIGQUERY_SCOPES for s in scopes):
                return AuthFailure(403, "insufficientPermissions",
                                   "Request had insufficient authentication scopes.",
                                   "token lacks a BigQuery scope")
            return None
        if token.count(".") == 2 and self.keys:
            try:
                claims, _key = self.verify_jwt(token, grant=False)
            except GrantError as e:
                return AuthFailure(401, "authError", MSG_INVALID, "self-signed JWT: %s" % e.description)
            aud = claims.get("aud")
            scope = claims.get("scope") or ""
            if aud in SELF_SIGNED_AUDS or any(s in BIGQUERY_SCOPES for s in scope.split()):
                return None
            return AuthFailure(401, "authError", MSG_INVALID, "self-signed JWT with wrong aud")
        return AuthFailure(401, "authError", MSG_INVALID, "unknown token")
