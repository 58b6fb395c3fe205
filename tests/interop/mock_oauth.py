#!/usr/bin/env python3
"""A small OAuth 2.0 provider for the interop suite (Python standard library only).

Endpoints (all on one loopback HTTP listener):

  POST /token          token endpoint: client_credentials, password, authorization_code,
                       refresh_token and urn:ietf:params:oauth:grant-type:device_code grants
  POST /introspect     RFC 7662 introspection (form field `token`, as Dovecot's
                       `introspection_mode = post` sends it; GET ?token= and Bearer also work)
  GET  /authorize      authorization endpoint: redirects at once to
                       `redirect_uri?code=...&state=...` (no user interaction)
  POST /devicecode     RFC 8628 device authorization endpoint
  GET  /device         verification page: `?user_code=...` approves a pending device code
  GET  /_stats         request counters as JSON: token requests per client and grant, authorize
                       visits per client, the `scope` values each client sent to each endpoint
  POST /_control       test control (JSON body, see `Provider.control`)

Every access token belongs to one account (`username`), which is what introspection reports,
so it must equal the SASL user the client logs in with upstream. The account is taken from
the request where the flow carries it (`username` of the password grant, `login_hint` of the
authorization request) and otherwise from the client table (`client_id -> username`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class OAuthError(Exception):
    """An error answered as an RFC 6749 error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Provider:
    """The provider's state: clients, users, issued tokens, counters and test switches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # client_id -> {"secret": str | None, "username": str | None}
        self.clients: dict[str, dict] = {}
        # username -> password (password grant)
        self.users: dict[str, str] = {}
        # token -> {"username", "client_id", "expires", "scope", "revoked"}
        self.access: dict[str, dict] = {}
        # refresh token -> {"username", "client_id", "scope", "revoked"}
        self.refresh: dict[str, dict] = {}
        # authorization code -> {"username", "client_id", "redirect_uri", "used"}
        self.codes: dict[str, dict] = {}
        # device code -> {"user_code", "username", "client_id", "scope", "approved"}
        self.devices: dict[str, dict] = {}
        self.default_expiry = 3600
        self.expiry_by_client: dict[str, int] = {}
        self.delay = 0.0
        self.delay_by_client: dict[str, float] = {}
        # [{"kind": "invalid_grant" | "500" | "invalid_client", "count": n, "client_id": str | None}]
        self.failures: list[dict] = []
        self.auto_approve_devices = False
        self.rotate_refresh_tokens = False
        self.stats = self._empty_stats()

    @staticmethod
    def _empty_stats() -> dict:
        return {
            "token_requests": 0,
            "grants": {},
            "by_client": {},
            "token_errors": 0,
            "introspect": 0,
            "introspect_active": 0,
            "introspect_inactive": 0,
            "introspect_by_user": {},
            "authorize": 0,
            "authorize_by_client": {},
            "scopes_by_client": {},
            "device_authorization": 0,
        }

    # ---- counters -------------------------------------------------------------------------

    def _count_grant(self, grant: str, client_id: str | None) -> None:
        self.stats["token_requests"] += 1
        self.stats["grants"][grant] = self.stats["grants"].get(grant, 0) + 1
        per_client = self.stats["by_client"].setdefault(client_id or "", {})
        per_client[grant] = per_client.get(grant, 0) + 1

    def _count_scope(self, endpoint: str, client_id: str | None, scope: str | None) -> None:
        """Counts the `scope` parameter a request carried, per client and endpoint."""
        if scope is None:
            return
        per_client = self.stats["scopes_by_client"].setdefault(client_id or "", {})
        per_endpoint = per_client.setdefault(endpoint, {})
        per_endpoint[scope] = per_endpoint.get(scope, 0) + 1

    # ---- issuing ----------------------------------------------------------------------------

    def _expiry_for(self, client_id: str | None) -> int:
        return self.expiry_by_client.get(client_id or "", self.default_expiry)

    def _issue(self, username: str, client_id: str | None, scope: str, with_refresh: bool,
               refresh_token: str | None = None) -> dict:
        expires_in = self._expiry_for(client_id)
        token = "at-" + secrets.token_urlsafe(24)
        self.access[token] = {
            "username": username,
            "client_id": client_id,
            "expires": time.time() + expires_in,
            "scope": scope,
            "revoked": False,
        }
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope,
        }
        if with_refresh:
            if refresh_token is None:
                refresh_token = "rt-" + secrets.token_urlsafe(24)
                self.refresh[refresh_token] = {
                    "username": username,
                    "client_id": client_id,
                    "scope": scope,
                    "revoked": False,
                }
            body["refresh_token"] = refresh_token
        return body

    def _username_for_client(self, client_id: str | None) -> str:
        client = self.clients.get(client_id or "")
        if client is None or not client.get("username"):
            raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401)
        return client["username"]

    def _check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if not client_id:
            raise OAuthError("invalid_request", "missing client_id")
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401)
        expected = client.get("secret")
        if expected is not None and client_secret != expected:
            raise OAuthError("invalid_client", "client authentication failed", 401)

    def _injected_failure(self, client_id: str | None) -> Exception | None:
        for failure in self.failures:
            if failure["count"] <= 0:
                continue
            if failure.get("client_id") and failure["client_id"] != client_id:
                continue
            failure["count"] -= 1
            kind = failure["kind"]
            if kind == "drop":
                return DropConnection()
            if kind == "500":
                return OAuthError("server_error", "injected server failure", 500)
            if kind == "invalid_client":
                return OAuthError("invalid_client", "injected invalid_client", 401)
            return OAuthError("invalid_grant", "injected invalid_grant")
        return None

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict:
        """Handle one token endpoint request; returns the JSON body or raises OAuthError."""
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        if basic is not None:
            client_id, client_secret = basic
        grant = form.get("grant_type", "")
        delay = self.delay_by_client.get(client_id or "", self.delay)
        if delay > 0:
            time.sleep(delay)
        with self.lock:
            self._count_grant(grant or "(none)", client_id)
            self._count_scope("token", client_id, form.get("scope"))
            try:
                failure = self._injected_failure(client_id)
                if failure is not None:
                    raise failure
                return self._grant(grant, form, client_id, client_secret)
            except OAuthError:
                self.stats["token_errors"] += 1
                raise

    def _grant(self, grant: str, form: dict[str, str], client_id: str | None,
               client_secret: str | None) -> dict:
        scope = form.get("scope", "")
        if grant == "client_credentials":
            self._check_client(client_id, client_secret)
            return self._issue(self._username_for_client(client_id), client_id, scope, False)
        if grant == "password":
            self._check_client(client_id, client_secret)
            username = form.get("username", "").lower()
            password = form.get("password")
            if username not in self.users or self.users[username] != password:
                raise OAuthError("invalid_grant",
                                 "AADSTS50126: Error validating credentials due to invalid "
                                 "username or password.")
            return self._issue(username, client_id, scope, True)
        if grant == "authorization_code":
            self._check_client(client_id, client_secret)
            code = self.codes.get(form.get("code", ""))
            if code is None or code["used"] or code["client_id"] != client_id:
                raise OAuthError("invalid_grant", "unknown, used or foreign authorization code")
            if code["redirect_uri"] and form.get("redirect_uri") != code["redirect_uri"]:
                raise OAuthError("invalid_grant", "redirect_uri does not match")
            code["used"] = True
            return self._issue(code["username"], client_id, code["scope"] or scope, True)
        if grant == "refresh_token":
            self._check_client(client_id, client_secret)
            refresh = self.refresh.get(form.get("refresh_token", ""))
            if refresh is None or refresh["revoked"] or refresh["client_id"] != client_id:
                raise OAuthError("invalid_grant", "refresh token unknown or revoked")
            keep = None if self.rotate_refresh_tokens else form["refresh_token"]
            if self.rotate_refresh_tokens:
                refresh["revoked"] = True
            return self._issue(refresh["username"], client_id, refresh["scope"], True, keep)
        if grant == DEVICE_GRANT:
            self._check_client(client_id, client_secret)
            device = self.devices.get(form.get("device_code", ""))
            if device is None or device["client_id"] != client_id:
                raise OAuthError("invalid_grant", "unknown device code")
            if device.get("used"):
                raise OAuthError("invalid_grant", "device code already used")
            if not device["approved"]:
                raise OAuthError("authorization_pending", "the user has not yet approved")
            device["used"] = True
            return self._issue(device["username"], client_id, device["scope"], True)
        raise OAuthError("unsupported_grant_type", f"grant type {grant!r} is not supported")

    def introspect(self, token: str) -> dict:
        with self.lock:
            self.stats["introspect"] += 1
            entry = self.access.get(token)
            per_user = self.stats["introspect_by_user"].setdefault(
                entry["username"] if entry else "", {"active": 0, "inactive": 0})
            if entry is None or entry["revoked"] or entry["expires"] <= time.time():
                self.stats["introspect_inactive"] += 1
                per_user["inactive"] += 1
                return {"active": False}
            self.stats["introspect_active"] += 1
            per_user["active"] += 1
            return {
                "active": True,
                "username": entry["username"],
                "email": entry["username"],
                "client_id": entry["client_id"] or "",
                "scope": entry["scope"],
                "token_type": "Bearer",
                "exp": int(entry["expires"]),
            }

    def authorize(self, query: dict[str, str]) -> str:
        """Return the redirect location for an authorization request."""
        with self.lock:
            self.stats["authorize"] += 1
            redirect_uri = query.get("redirect_uri", "")
            client_id = query.get("client_id")
            per_client = self.stats["authorize_by_client"]
            per_client[client_id or ""] = per_client.get(client_id or "", 0) + 1
            self._count_scope("authorize", client_id, query.get("scope"))
            if not redirect_uri:
                raise OAuthError("invalid_request", "missing redirect_uri")
            params = {}
            if "state" in query:
                params["state"] = query["state"]
            try:
                if client_id not in self.clients:
                    raise OAuthError("invalid_client", f"unknown client {client_id!r}")
                username = query.get("login_hint", "").lower() or self._username_for_client(client_id)
                code = "ac-" + secrets.token_urlsafe(18)
                self.codes[code] = {
                    "username": username,
                    "client_id": client_id,
                    "redirect_uri": redirect_uri,
                    "scope": query.get("scope", ""),
                    "used": False,
                }
                params["code"] = code
            except OAuthError as error:
                params["error"] = error.error
                params["error_description"] = error.description
            separator = "&" if "?" in redirect_uri else "?"
            return redirect_uri + separator + urllib.parse.urlencode(params)

    def device_authorization(self, form: dict[str, str], base_url: str,
                             basic: tuple[str, str] | None) -> dict:
        client_id = basic[0] if basic else form.get("client_id")
        with self.lock:
            self.stats["device_authorization"] += 1
            if client_id not in self.clients:
                raise OAuthError("invalid_client", f"unknown client {client_id!r}", 401)
            device_code = "dc-" + secrets.token_urlsafe(18)
            user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
            self.devices[device_code] = {
                "user_code": user_code,
                "username": form.get("login_hint", "").lower() or self._username_for_client(client_id),
                "client_id": client_id,
                "scope": form.get("scope", ""),
                "approved": self.auto_approve_devices,
            }
            return {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": base_url + "/device",
                "verification_uri_complete": base_url + "/device?user_code=" + user_code,
                "expires_in": 300,
                "interval": 1,
                "message": f"To sign in, visit {base_url}/device and enter the code {user_code}",
            }

    def approve_device(self, user_code: str) -> bool:
        with self.lock:
            for device in self.devices.values():
                if device["user_code"] == user_code:
                    device["approved"] = True
                    return True
            return False

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def control(self, command: dict) -> dict:
        """Apply one test control command.

        Actions: add_client {client_id, client_secret?, username}; add_user {username, password};
        issue {username, client_id?} -> tokens; revoke {token} or {username, what?: access|refresh|all};
        set_expiry {seconds, client_id?}; set_delay {seconds, client_id?};
        fail_next {count, kind: invalid_grant|500|invalid_client|drop, client_id?} (drop closes
            the connection without an answer);
        clear_failures {client_id?};
        approve_device {user_code}; auto_approve_devices {enabled}; rotate_refresh_tokens {enabled};
        reset_stats.
        """
        action = command.get("action")
        with self.lock:
            if action == "add_client":
                self.clients[command["client_id"]] = {
                    "secret": command.get("client_secret"),
                    "username": (command.get("username") or "").lower() or None,
                }
                return {"ok": True}
            if action == "add_user":
                self.users[command["username"].lower()] = command["password"]
                return {"ok": True}
            if action == "issue":
                return self._issue(command["username"].lower(), command.get("client_id"),
                                   command.get("scope", ""), True)
            if action == "revoke":
                revoked = 0
                if "token" in command:
                    for table in (self.access, self.refresh):
                        entry = table.get(command["token"])
                        if entry is not None and not entry["revoked"]:
                            entry["revoked"] = True
                            revoked += 1
                else:
                    username = command["username"].lower()
                    what = command.get("what", "access")
                    tables = {"access": [self.access], "refresh": [self.refresh],
                              "all": [self.access, self.refresh]}[what]
                    for table in tables:
                        for entry in table.values():
                            if entry["username"] == username and not entry["revoked"]:
                                entry["revoked"] = True
                                revoked += 1
                return {"ok": True, "revoked": revoked}
            if action == "set_expiry":
                if command.get("client_id"):
                    self.expiry_by_client[command["client_id"]] = int(command["seconds"])
                else:
                    self.default_expiry = int(command["seconds"])
                return {"ok": True}
            if action == "set_delay":
                if command.get("client_id"):
                    self.delay_by_client[command["client_id"]] = float(command["seconds"])
                else:
                    self.delay = float(command["seconds"])
                return {"ok": True}
            if action == "fail_next":
                self.failures.append({
                    "kind": str(command.get("kind", "invalid_grant")),
                    "count": int(command.get("count", 1)),
                    "client_id": command.get("client_id"),
                })
                return {"ok": True}
            if action == "clear_failures":
                client_id = command.get("client_id")
                self.failures[:] = [f for f in self.failures
                                    if client_id and f.get("client_id") != client_id]
                return {"ok": True}
            if action == "auto_approve_devices":
                self.auto_approve_devices = bool(command.get("enabled", True))
                return {"ok": True}
            if action == "rotate_refresh_tokens":
                self.rotate_refresh_tokens = bool(command.get("enabled", True))
                return {"ok": True}
            if action == "reset_stats":
                self.stats = self._empty_stats()
                return {"ok": True}
        if action == "approve_device":
            return {"ok": self.approve_device(command.get("user_code", ""))}
        raise OAuthError("invalid_request", f"unknown control action {action!r}")


class DropConnection(Exception):
    """An injected failure: the connection is closed without an answer."""


class Handler(BaseHTTPRequestHandler):
    """HTTP front end of `Provider`."""

    protocol_version = "HTTP/1.1"
    server_version = "mock-oauth/1"
    provider: Provider  # set on the class by main()
    quiet = False

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        if not self.quiet:
            sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), format % args))

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: dict) -> None:
        self._send(status, json.dumps(value).encode())

    def _error(self, error: OAuthError) -> None:
        if error.status == 500:
            self._send(500, b"internal server error\n", "text/plain")
        else:
            self._json(error.status, {"error": error.error, "error_description": error.description})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            raise OAuthError("invalid_request", "request body too large")
        return self.rfile.read(length) if length else b""

    def _form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self._body().decode("utf-8", "replace"),
                                           keep_blank_values=True))

    def _basic(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(value[6:].strip()).decode()
        except ValueError:
            return None
        user, _, password = decoded.partition(":")
        return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        try:
            if url.path == "/authorize":
                location = self.provider.authorize(query)
                self._send(302, b"", "text/plain", {"Location": location})
            elif url.path == "/device":
                if "user_code" in query:
                    ok = self.provider.approve_device(query["user_code"])
                    self._send(200 if ok else 404,
                               b"approved\n" if ok else b"unknown code\n", "text/plain")
                else:
                    self._send(200, b"enter your code\n", "text/plain")
            elif url.path == "/devicecode":
                # The Python reference requests the device code with a GET and query parameters.
                self._json(200, self.provider.device_authorization(query, self._base_url(),
                                                                   self._basic()))
            elif url.path == "/introspect":
                token = query.get("token") or self._bearer()
                self._json(200, self.provider.introspect(token))
            elif url.path == "/_stats":
                self._json(200, self.provider.snapshot())
            else:
                self._send(404, b"not found\n", "text/plain")
        except OAuthError as error:
            self._error(error)

    def _bearer(self) -> str:
        value = self.headers.get("Authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/token":
                basic = self._basic()
                self._json(200, self.provider.token(self._form(), basic))
            elif url.path == "/introspect":
                form = self._form()
                token = form.get("token") or self._bearer()
                self._json(200, self.provider.introspect(token))
            elif url.path == "/devicecode":
                basic = self._basic()
                self._json(200, self.provider.device_authorization(self._form(), self._base_url(),
                                                                   basic))
            elif url.path == "/_control":
                try:
                    command = json.loads(self._body() or b"{}")
                except ValueError as error:
                    raise OAuthError("invalid_request", f"bad JSON: {error}") from error
                self._json(200, self.provider.control(command))
            else:
                self._send(404, b"not found\n", "text/plain")
        except OAuthError as error:
            self._error(error)
        except DropConnection:
            self.close_connection = True
        except (KeyError, TypeError, ValueError) as error:
            self._json(400, {"error": "invalid_request", "error_description": repr(error)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--config", help="JSON: {clients: {id: {secret, username}}, users: {name: pw}}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    provider = Provider()
    if args.config:
        with open(args.config, encoding="utf-8") as file:
            config = json.load(file)
        for client_id, client in config.get("clients", {}).items():
            provider.control({"action": "add_client", "client_id": client_id,
                              "client_secret": client.get("secret"),
                              "username": client.get("username")})
        for username, password in config.get("users", {}).items():
            provider.control({"action": "add_user", "username": username, "password": password})

    Handler.provider = provider
    Handler.quiet = args.quiet
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as file:
            file.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stderr.write(f"mock OAuth 2.0 provider listening on http://{args.host}:{port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
