"""auth remote_user behind the example site itself (nginx.conf.example,
through conf/nginx-local.sh), with each of its two auth blocks turned on as
doc/security.md says: every route of the API, the change feed's long poll and
event stream included, is 401 without credentials and with forged ones
(an "Authorization: Basic" header nginx never checked), and with real ones
the principal is the user that nginx authenticated, nobody else."""
import base64
import contextlib
import http.client
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading

import harness

USERS = {"alice": "wonder", "bob": "builder"}
# what the sign-on service takes: a session cookie, and the user it names
SESSIONS = {"s-alice": "alice", "s-bob": "bob", "s-anon": ""}
BANNED = "s-carol"      # known to the service, and refused: 403


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


FORGED = basic("mallory", "x")


def routes(run):
    """(method, path, body, headers) of every kind of API request."""
    key = f"/api/storage/ru/{run}/a"
    return [
        ("GET", key, None, {}),
        ("PUT", key, json.dumps({"value": 1}), {"If-None-Match": "*"}),
        ("PATCH", key, json.dumps({"x": 1}),
         {"Content-Type": "application/merge-patch+json"}),
        ("DELETE", key, None, {}),
        ("POST", f"/api/storage/ru/{run}/", json.dumps({"value": 1}), {}),
        ("POST", key + "?append=/l", json.dumps(1), {}),
        ("GET", f"/api/storage/ru/{run}/", None, {}),
        ("POST", "/api/txn", json.dumps({"ops": [
            {"op": "put", "key": f"ru/{run}/t", "value": 1}]}), {}),
        ("POST", f"/api/activities/ru-{run}",
         json.dumps({"upsert": [{"id": 1}]}), {}),
        ("GET", "/api/metrics", None, {}),
        ("GET", "/api/changes?since=0", None, {}),
        ("GET", "/api/changes?since=0&wait=1", None, {}),
        ("GET", "/api/changes?since=0",
         None, {"Accept": "text/event-stream"}),
    ]


def sse_first(srv, path, headers, timeout=10):
    """Status and, for a 200, the first change event's data."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request("GET", path, headers=dict(headers,
                                            Accept="text/event-stream"))
        r = c.getresponse()
        if r.status != 200:
            return r.status, json.loads(r.read())
        assert r.getheader("Content-Type").startswith("text/event-stream")
        while True:
            line = r.fp.readline()
            assert line, "the stream ended before a change"
            if line.startswith(b"data:"):
                return r.status, json.loads(line[5:])
    finally:
        c.close()


def refused(srv, run, headers, nginx_says):
    """Every route answers 401 problem+json with these headers, and none
    changes anything."""
    for method, path, body, extra in routes(run):
        h = dict(extra, **headers)
        if "Accept" in h:
            status, doc = sse_first(srv, path, h)
        else:
            r = srv.request(method, path, body, h)
            status, doc = r.status, r.json
            assert r.h("content-type").startswith("application/problem+json"), r
            if nginx_says:
                assert r.h("www-authenticate"), r
        assert status == 401, (method, path, headers, status, doc)
        assert doc["code"] == "UNAUTHORIZED", doc
    r = srv.get(f"/api/storage/ru/{run}/", headers=GOOD[srv.mode])
    assert r.status == 200 and r.json["items"] == [], r


def works_as(srv, run, headers, user):
    """With headers, writes are the user's, and the feed (long poll and
    event stream) tells of them."""
    key = f"ru/{run}/a"
    seq = srv.get("/api/changes?since=0&limit=1000",
                  headers=headers).json["last_seq"]
    r = srv.put(key, {"by": user}, headers=dict(headers,
                                                 **{"If-None-Match": "*"}))
    assert r.status == 201, r
    doc = srv.get("/api/storage/" + key, headers=headers).json
    assert doc["updated_by"] == user, doc
    r = srv.request("POST", f"/api/storage/ru/{run}/",
                    json.dumps({"value": 2}), headers)
    assert r.status == 201 and r.json["updated_by"] == user, r
    made = r.json["key"]
    r = srv.request("POST", f"/api/storage/{key}?append=/l&stamp=1",
                    json.dumps({"n": 1}), headers)
    assert r.status == 200, r
    doc = srv.get("/api/storage/" + key, headers=headers).json
    assert doc["value"]["l"][0]["by"] == user, doc
    r = srv.get(f"/api/changes?since={seq}&wait=5", headers=headers)
    assert r.status == 200, r
    assert [c["key"] for c in r.json["results"]] == [made, key], r.json
    status, change = sse_first(srv, f"/api/changes?since={seq}", headers)
    assert status == 200 and change["key"] == made, change
    r = srv.get("/api/metrics", headers=headers)
    assert r.status == 200, r
    r = srv.delete(key, headers=headers)
    assert r.status == 200, r


GOOD = {"basic": basic("alice", "wonder"),
        "request": {"Cookie": "session=s-alice"}}


def password_file():
    d = tempfile.mkdtemp(prefix="verstore-htpasswd-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "users")
    with open(path, "w") as f:
        for user, password in USERS.items():
            f.write(f"{user}:{{PLAIN}}{password}\n")
    os.chmod(path, 0o644)
    return path


@contextlib.contextmanager
def site(mode, arg):
    """The example site with the auth block mode turned on (arg: its
    password file or URL), under auth remote_user: nobody gets in without
    credentials or with forged ones; health answers anyone, as verstored's
    contract says."""
    with harness.running(conf="auth remote_user\n",
                         nginx_auth=f"{mode} {arg}") as srv:
        srv.mode = mode
        refused(srv, mode, {}, True)
        refused(srv, mode, FORGED, True)
        assert srv.get("/api/health").status == 200
        yield srv


def test_auth_basic_block_of_the_example_site():
    with site("basic", password_file()) as srv:
        refused(srv, "basic", basic("alice", "wrong"), True)
        works_as(srv, "basic1", basic("alice", "wonder"), "alice")
        works_as(srv, "basic2", basic("bob", "builder"), "bob")


class SignOn(http.server.BaseHTTPRequestHandler):
    """The sign-on service: 204 with X-User for a known session cookie
    (an empty X-User for one that names nobody), 403 for a banned one,
    else 401."""
    asked = []

    def do_GET(self):
        SignOn.asked.append((self.headers.get("X-Original-Method"),
                             self.headers.get("X-Original-URI")))
        m = re.search(r"(?:^|;\s*)session=([^;]*)",
                      self.headers.get("Cookie") or "")
        if m and m.group(1) == BANNED:
            self.send_response(403)
        elif m and m.group(1) in SESSIONS:
            self.send_response(204)
            self.send_header("X-User", SESSIONS[m.group(1)])
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Cookie realm="sso"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_auth_request_block_of_the_example_site():
    sso = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SignOn)
    t = threading.Thread(target=sso.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{sso.server_address[1]}/check"
    try:
        with site("request", url) as srv:
            refused(srv, "request", {"Cookie": "session=stolen"}, True)
            # the service let it through but named nobody: verstored's 401
            refused(srv, "request", {"Cookie": "session=s-anon"}, False)
            r = srv.get("/api/changes?since=0",
                        headers={"Cookie": "session=" + BANNED})
            assert r.status == 403 and r.json["code"] == "FORBIDDEN", r
            assert r.h("content-type").startswith("application/problem+json")
            assert ("GET", "/api/changes?since=0&wait=1") in SignOn.asked
            works_as(srv, "request1", GOOD["request"], "alice")
            # a Basic header beside a real session names nobody else
            works_as(srv, "request2", dict(FORGED, Cookie="session=s-bob"),
                     "bob")
    finally:
        sso.shutdown()
        sso.server_close()


def test_security_page_gives_the_lines_of_the_blocks():
    """doc/security.md's recipes are the lines that the blocks turn on."""
    with open(os.path.join(harness.ROOT, "doc", "security.md")) as f:
        page = f.read()
    section = page[page.index("`auth remote_user` leaves"):]
    section = section[:section.index("\n## ")]
    fences = re.findall(r"```nginx\n(.*?)```", section, re.S)
    assert len(fences) == 2, fences
    for auth, fence in zip(("basic /etc/nginx/verstore.htpasswd",
                            "request http://127.0.0.1:9000/check"), fences):
        site = subprocess.run(
            ["sh", os.path.join(harness.ROOT, "conf", "nginx-local.sh"),
             "1", "/s", "/r/v.sock", "/w"], check=True, capture_output=True,
            text=True, env=dict(os.environ, NGINX_AUTH=auth)).stdout
        live = [ln.strip() for ln in site.splitlines()
                if ln.strip() and not ln.strip().startswith("#")]
        lines = [ln.strip() for ln in fence.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")
                 and ln not in ("}", "...")]
        assert lines, fence
        for ln in lines:
            assert ln in live, (auth, ln)
