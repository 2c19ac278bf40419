"""The other sides of API.md 9 through nginx: auth remote_user behind
nginx's auth_basic, CORS for a listed origin (preflight included), and
metrics_public."""
import base64
import hashlib
import json
import os
import tempfile

import harness


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_remote_user_behind_auth_basic():
    d = tempfile.mkdtemp(prefix="verstore-htpasswd-")
    os.chmod(d, 0o755)
    users = os.path.join(d, "users")
    with open(users, "w") as f:
        f.write("alice:{PLAIN}wonder\nbob:{PLAIN}builder\n")
    os.chmod(users, 0o644)
    # the README's recipe, as a second server in front of the same socket
    port = harness.free_port()
    sock = None
    with harness.running(conf="auth remote_user\n") as srv0:
        sock = srv0.sock
        srv0.nginx_extra = f"""
    server {{
        listen 127.0.0.1:{port};
        location /api/ {{
            auth_basic "verstore";
            auth_basic_user_file {users};
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:{sock};
        }}
    }}"""
        srv0.ng.terminate()
        srv0.ng.wait()
        srv0.start_nginx()
        srv0.wait_healthy()
        srv = Basic(srv0, port)
        assert srv.get("/api/storage/n/a").status == 401     # nginx's own
        r = srv.put("n/a", {"l": []}, headers=basic("alice", "wonder"))
        assert r.status == 201, r
        doc = srv.get("/api/storage/n/a", headers=basic("bob", "builder")).json
        assert doc["updated_by"] == "alice", doc
        r = srv.request("POST", "/api/storage/n/a?append=/l&stamp=1",
                        json.dumps({"t": 1}), basic("bob", "builder"))
        assert r.status == 200, r
        doc = srv.get("/api/storage/n/a", headers=basic("alice", "wonder")).json
        assert doc["updated_by"] == "bob", doc
        assert doc["value"]["l"][0]["by"] == "bob", doc
        # straight on the socket, no REMOTE_USER: verstored's own 401
        h, body = harness.fcgi_request(srv.sock, {
            "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/storage/n/a"})
        assert h["status"].startswith("401"), h
        assert json.loads(body)["code"] == "UNAUTHORIZED"
        assert h["www-authenticate"].startswith("Basic"), h
        h, body = harness.fcgi_request(srv.sock, {
            "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/storage/n/a",
            "REMOTE_USER": ""})
        assert h["status"].startswith("401"), h
        h, body = harness.fcgi_request(srv.sock, {
            "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/storage/n/a",
            "REMOTE_USER": "x" * 256})
        assert h["status"].startswith("401"), h


class Basic:
    """Requests to the auth_basic server, the harness's way."""

    def __init__(self, srv, port):
        self.srv, self.port, self.sock = srv, port, srv.sock

    def request(self, *a, **kw):
        port, self.srv.port = self.srv.port, self.port
        try:
            return self.srv.request(*a, **kw)
        finally:
            self.srv.port = port

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def put(self, key, value, headers=None):
        return self.request("PUT", "/api/storage/" + key,
                            json.dumps({"value": value}), headers)


TOKEN = "cors-0123456789abcdefghijklmnopqrstuvwxyzABCD"


def cors_server(extra=""):
    d = tempfile.mkdtemp(prefix="verstore-cors-")
    os.chmod(d, 0o755)
    tokens = os.path.join(d, "tokens")
    with open(tokens, "w") as f:
        f.write(f"app {hashlib.sha256(TOKEN.encode()).hexdigest()} rw *\n")
    os.chmod(tokens, 0o644)
    return harness.running(conf=f"auth token\ntokens {tokens}\n"
                           "cors_origins https://app.example "
                           f"http://localhost:5173\n{extra}")


def test_cors_for_listed_origins():
    auth = {"Authorization": "Bearer " + TOKEN}
    with cors_server() as srv:
        # the preflight carries no credentials and is answered
        r = srv.request("OPTIONS", "/api/storage/c/a", headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,if-match"})
        assert r.status == 204, r
        assert r.h("Access-Control-Allow-Origin") == "https://app.example"
        methods = r.h("Access-Control-Allow-Methods")
        for m in ("GET", "PUT", "PATCH", "POST", "DELETE"):
            assert m in methods, methods
        allowed = r.h("Access-Control-Allow-Headers").lower()
        for h in ("authorization", "content-type", "if-match",
                  "if-none-match", "if-unmodified-since", "idempotency-key",
                  "prefer", "last-event-id"):
            assert h in allowed, allowed
        assert "Origin" in r.h("Vary")
        # an answer to the listed origin names it and exposes the headers
        r = srv.put("c/a", 1, headers=dict(auth, Origin="http://localhost:5173"))
        assert r.status == 201, r
        assert r.h("Access-Control-Allow-Origin") == "http://localhost:5173"
        exposed = r.h("Access-Control-Expose-Headers")
        for h in ("ETag", "Last-Modified", "Location", "Idempotent-Replayed",
                  "Preference-Applied"):
            assert h in exposed, exposed
        # a 401 too, so that the page can read why
        r = srv.get("/api/storage/c/a", headers={"Origin": "https://app.example"})
        assert r.status == 401 and r.h("Access-Control-Allow-Origin"), r
        # unlisted origins get nothing, preflight or not
        for origin in ("https://evil.example", "https://app.example.evil",
                       "null"):
            r = srv.get("/api/storage/c/a", headers=dict(auth, Origin=origin))
            assert r.status == 200 and r.h("Access-Control-Allow-Origin") is None
            r = srv.request("OPTIONS", "/api/storage/c/a", headers={
                "Origin": origin, "Access-Control-Request-Method": "PUT"})
            assert r.h("Access-Control-Allow-Origin") is None, r
            assert r.h("Access-Control-Allow-Methods") is None, r


def test_metrics_public():
    with cors_server() as srv:
        assert srv.get("/api/metrics").status == 401
        r = srv.get("/api/metrics", headers={"Authorization": "Bearer " + TOKEN})
        assert r.status == 200, r
    with cors_server("metrics_public on\n") as srv:
        assert srv.get("/api/metrics").status == 200
        assert srv.get("/api/storage/c/a").status == 401
