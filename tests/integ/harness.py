"""Starts real verstored + real nginx (or Apache or lighttpd, as
VERSTORE_FRONTEND or Server(frontend=) says) on a free loopback port for
the integration tests, and talks to them over HTTP and straight FastCGI.

The store is LMDB in the server's own directory, or, when VERSTORE_BACKEND
is "postgres" (tests/run.py's second pass) or a Server is asked to, a
database of its own on the PostgreSQL cluster that VERSTORE_PG names (a
libpq conninfo of key=value words, tests/pg.sh start prints one)."""
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import weakref

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The front-ends a Server may put before verstored (VERSTORE_FRONTEND):
# nginx, or Apache or lighttpd, configured from conf/*.conf.example.
FRONTENDS = {
    "nginx": NGINX,
    "apache": shutil.which("apache2") or "/usr/sbin/apache2",
    "lighttpd": shutil.which("lighttpd") or "/usr/sbin/lighttpd",
}
PSQL = shutil.which("psql") or os.path.join(
    os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")


def backend():
    """The backend a Server uses unless told otherwise: "lmdb" or
    "postgres" (VERSTORE_BACKEND)."""
    return os.environ.get("VERSTORE_BACKEND") or "lmdb"


def frontend():
    """The front-end a Server uses unless told otherwise: "nginx" (the
    default), "apache" or "lighttpd" (VERSTORE_FRONTEND)."""
    return os.environ.get("VERSTORE_FRONTEND") or "nginx"


def frontend_installed(name):
    return os.access(FRONTENDS[name], os.X_OK)


def _die_with_parent():
    """preexec_fn: SIGTERM this child when the test process dies, so that a
    killed test run leaves no server behind."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG


def backends(*names):
    """Marks a test that holds on these backends only ("lmdb",
    "postgres"); a module says so of all its tests with BACKENDS = (...)."""
    def mark(fn):
        fn.BACKENDS = names
        return fn
    return mark


def frontends(*names):
    """Marks a test that holds through these front-ends only ("nginx",
    "apache", "lighttpd"); a module says so with FRONTENDS = (...)."""
    def mark(fn):
        fn.FRONTENDS = names
        return fn
    return mark


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def public_copy(src, dst, skip=()):
    """A copy of the file or tree src at dst that every user may read
    (dst's parent must be reachable), skip: top-level names left out.
    As root, nginx's workers run as nobody, and a checkout may sit in a
    0700 directory (a home): what they serve, and what a test runs as
    another user, is copied where they can reach it."""
    if not os.path.isdir(src):
        shutil.copy2(src, dst)
        _readable(dst)
        return dst
    shutil.copytree(src, dst, ignore=lambda d, names: [
        n for n in names if d == src and n in skip])
    for d, _, files in os.walk(dst):
        _readable(d)
        for f in files:
            _readable(os.path.join(d, f))
    return dst


def _readable(path):
    """a+r, and a+x where its owner may search or run it."""
    mode = os.stat(path).st_mode
    os.chmod(path, 0o755 if mode & 0o100 else 0o644)


def metric(text, name, **labels):
    """The value of one series in /api/metrics' text (labels: those it
    must have), None when it is not there."""
    for line in text.splitlines():
        m = re.match(r'([a-z_]+)(\{[^}]*\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


# -- a database of a Server's own on the postgres backend ----------------------
_databases = itertools.count(1)
_DBNAME = re.compile(r"(^|\s)dbname\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def psql(sql, conninfo=None):
    """Runs sql on the database conninfo names (VERSTORE_PG's when None);
    returns what it printed, unaligned, without headers."""
    p = subprocess.run(
        [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-d", conninfo or os.environ["VERSTORE_PG"], "-c", sql],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PGOPTIONS="--client-min-messages=warning"))
    if p.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {p.stderr.strip()}")
    return p.stdout


def dbname(conninfo):
    m = _DBNAME.search(conninfo)
    return m.group(2).strip("'") if m else None


def create_database():
    """A new, empty database on the cluster of VERSTORE_PG, reached as
    VERSTORE_PG says: its conninfo (for drop_database)."""
    base = os.environ.get("VERSTORE_PG")
    if not base:
        raise RuntimeError("the postgres backend needs VERSTORE_PG "
                           "(tests/pg.sh start prints one)")
    name = f"verstore_it_{os.getpid()}_{next(_databases)}_" \
        f"{os.urandom(3).hex()}"
    psql(f"CREATE DATABASE {name}")
    return f"{_DBNAME.sub('', base).strip()} dbname={name}"


def drop_database(conninfo):
    """Drops what create_database made, ending whatever still uses it."""
    psql(f"DROP DATABASE IF EXISTS {dbname(conninfo)} WITH (FORCE)")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case names
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


class Server:
    """A front-end (nginx unless frontend or VERSTORE_FRONTEND says
    "apache" or "lighttpd") in front of verstored, each a child process of
    the test; self.ng is the front-end's process, whichever it is.

    pg chooses the store:
      None   (the default) as backend() says; on "postgres", a database of
             its own as with True. A conf that sets backend itself is left
             as it is.
      True   backend postgres, in a new database made for this Server (on
             VERSTORE_PG's cluster), dropped by stop(): it starts empty,
             as LMDB in a fresh data_dir.
      "..."  backend postgres with that conninfo, say another Server's .pg
             or one that create_database() made (drop_database() drops
             it), so that both serve one store; stop() leaves it be.
      False  LMDB in self.data, whatever the environment says.
    self.pg is the conninfo used (None on LMDB). Lines in conf come after
    the harness's own, so they override them.
    """

    def __init__(self, workers=2, threads=8, conf="", nginx_extra="",
                 nginx_workers=1, www=None, pg=None, nginx_auth=None,
                 frontend=None):
        self.pg, self.own_db = self._store(pg, conf)
        self.frontend = frontend or globals()["frontend"]()
        if self.frontend not in FRONTENDS:
            raise ValueError(f"no front-end {self.frontend!r}")
        self.dir = tempfile.mkdtemp(prefix="verstore-it-")
        os.chmod(self.dir, 0o755)     # nginx workers may run as nobody
        self.port = free_port()
        # The socket in a directory of its own, which verstored makes 0750
        # in nginx's group; the socket 0660. As root, nginx's workers run
        # as nobody, group nogroup; otherwise as this same user.
        self.sock = os.path.join(self.dir, "run", "verstored.sock")
        group = "socket_group nogroup\n" if os.geteuid() == 0 else ""
        self.data = os.path.join(self.dir, "data")
        self.conf_path = os.path.join(self.dir, "verstore.conf")
        store = f"backend postgres\npostgres_conninfo {self.pg}\n" \
            if self.pg else ""
        with open(self.conf_path, "w") as f:
            f.write(f"data_dir {self.data}\n{store}socket {self.sock}\n"
                    f"socket_mode 0660\n{group}workers {workers}\n"
                    f"threads {threads}\nshutdown_timeout 5\n{conf}\n")
        self.vs = None
        self.ng = None
        self.vs_log = os.path.join(self.dir, "verstored.log")
        self.nginx_extra = nginx_extra      # http-level text, e.g. a server
        self.nginx_workers = nginx_workers
        # "basic FILE" or "request URL": that auth block of the example
        # site, turned on (conf/nginx-local.sh NGINX_AUTH)
        self.nginx_auth = nginx_auth
        self.www = www                      # the web root; None: a stub

    @staticmethod
    def _store(pg, conf):
        """(conninfo or None, whether it is a database of this Server's)."""
        if pg is None:
            own = re.search(r"(?m)^\s*backend\s", conf or "")
            pg = backend() == "postgres" and not own
        if pg is True:
            return create_database(), True
        return pg or None, False

    # -- processes ----------------------------------------------------------
    def start(self):
        self.start_verstored()
        self.start_frontend()
        self.wait_healthy()

    def start_frontend(self):
        if self.frontend == "nginx":
            self.start_nginx()
        else:
            self.start_other()

    def start_verstored(self):
        self.vs = subprocess.Popen(
            [os.path.join(BUILD, "verstored"), "-c", self.conf_path],
            stdout=subprocess.DEVNULL, stderr=open(self.vs_log, "a"),
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.vs.poll() is not None or time.monotonic() > deadline:
                self.dump_logs()
                raise RuntimeError("verstored did not start")
            time.sleep(0.02)

    def web_root(self):
        """A copy of self.www in the server's directory, or a stub site of
        one page there: the front-end's workers reach it whoever they run
        as (public_copy)."""
        www = os.path.join(self.dir, "www")
        if self.www is not None and not os.path.exists(www):
            public_copy(self.www, www, skip=("node_modules", "test", "bin"))
        elif self.www is None:
            os.makedirs(www, exist_ok=True)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write("<!doctype html><title>app</title>\n")
        return www

    def start_nginx(self):
        state = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(state, "tmp"), exist_ok=True)
        www = self.web_root()
        client = os.path.join(self.dir, "client")
        if not os.path.exists(client):
            os.makedirs(client)
            for name in ("verstore.js", "conflict.js", "offline.js"):
                public_copy(os.path.join(ROOT, "client", name),
                            os.path.join(client, name))
        conf = subprocess.run(
            ["sh", os.path.join(ROOT, "conf", "nginx-local.sh"),
             str(self.port), state, self.sock, www],
            check=True, capture_output=True, text=True,
            env=dict(os.environ, NGINX_WORKERS=str(self.nginx_workers),
                     NGINX_AUTH=self.nginx_auth or "",
                     NGINX_CLIENT=client)).stdout
        if self.nginx_extra:
            conf = conf.rstrip().rstrip("}") + self.nginx_extra + "\n}\n"
        path = os.path.join(state, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.ng = subprocess.Popen([NGINX, "-p", state, "-c", path],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   start_new_session=True,
                                   preexec_fn=_die_with_parent)

    def start_other(self):
        """Apache or lighttpd from its conf/*.conf.example, built by
        conf/frontend-local.sh, logging into the server's directory."""
        if self.nginx_extra:
            raise ValueError("nginx_extra is nginx's")
        state = os.path.join(self.dir, self.frontend)
        uploads = os.path.join(state, "uploads")
        os.makedirs(uploads, exist_ok=True)
        os.chmod(state, 0o755)
        os.chmod(uploads, 0o1777)       # lighttpd's workers may be nobody
        www = self.web_root()
        conf = subprocess.run(
            ["sh", os.path.join(ROOT, "conf", "frontend-local.sh"),
             self.frontend, str(self.port), state, self.sock, www],
            check=True, capture_output=True, text=True).stdout
        path = os.path.join(state, self.frontend + ".conf")
        with open(path, "w") as f:
            f.write(conf)
        exe = FRONTENDS[self.frontend]
        argv = [exe, "-d", state, "-f", path, "-DFOREGROUND"] \
            if self.frontend == "apache" else [exe, "-D", "-f", path]
        self.fe_log = os.path.join(state, "stderr.log")
        self.ng = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                   stderr=open(self.fe_log, "a"),
                                   start_new_session=True,
                                   preexec_fn=_die_with_parent)

    def frontend_log(self):
        """What the front-end (Apache or lighttpd) logged."""
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, self.frontend, name)) as f:
                    out += f.read()
            except FileNotFoundError:
                pass
        return out

    def wait_healthy(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/api/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.dump_logs()
        raise RuntimeError("not healthy")

    def stop_verstored(self, sig=signal.SIGTERM, timeout=15):
        if self.vs is None:
            return None
        if self.vs.poll() is None:
            self.vs.send_signal(sig)
        try:
            rc = self.vs.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.vs.pid, signal.SIGKILL)
            rc = self.vs.wait()
        self.vs = None
        return rc

    def kill_all_verstored(self):
        """kill -9 the master and every worker at once."""
        pids = [self.vs.pid] + self.worker_pids()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.vs.wait()
        self.vs = None
        deadline = time.monotonic() + 5
        while any(os.path.exists(f"/proc/{p}") and not is_zombie(p)
                  for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                 "runtime error:", "ThreadSanitizer")

    def sanitizer_reports(self):
        """Lines of the verstored log where a sanitizer spoke."""
        return [ln for ln in self.log().splitlines()
                if any(w in ln for w in self.SANITIZER)]

    def stop(self):
        """Stops both and drops the database of its own; returns what went
        wrong: the sanitizer reports seen in the log, a database that
        could not be dropped."""
        self.stop_verstored()
        reports = self.sanitizer_reports()
        if reports:
            self.dump_logs()
        if self.own_db:
            try:
                drop_database(self.pg)
                self.own_db = False
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                reports.append(str(e))
        if self.ng is not None:
            self.ng.terminate()
            try:
                self.ng.wait(10)
            except subprocess.TimeoutExpired:
                self.ng.kill()
                self.ng.wait()
            if self.frontend != "nginx":    # workers of its own session
                try:
                    os.killpg(self.ng.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.ng = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return reports

    def worker_pids(self):
        if self.vs is None:
            return []
        try:
            with open(f"/proc/{self.vs.pid}/task/{self.vs.pid}/children") as f:
                return sorted(int(x) for x in f.read().split())
        except OSError:
            return []

    def wait_workers(self, n, timeout=10, gone=()):
        """Waits for n live workers, none of them in gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in self.worker_pids() if not is_zombie(p)]
            if len(pids) == n and not set(pids) & set(gone):
                return pids
            time.sleep(0.05)
        raise AssertionError(f"expected {n} workers, have {self.worker_pids()}")

    def log(self):
        try:
            with open(self.vs_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def dump_logs(self):
        print("---- verstored log (tail) ----")
        print("\n".join(self.log().splitlines()[-60:]))
        if self.frontend != "nginx":
            print(f"---- {self.frontend} log (tail) ----")
            print("\n".join(self.frontend_log().splitlines()[-30:]))

    # -- HTTP -----------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)) or body is None and False:
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            if body is not None and "Content-Type" not in h:
                h["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            headers = {}
            for k, v in r.getheaders():     # repeated: one, comma-joined
                k = k.lower()
                headers[k] = f"{headers[k]}, {v}" if k in headers else v
            return Resp(r.status, headers, data)
        finally:
            c.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def put(self, key, value, headers=None, timeout=30, **extra):
        """PUT {"value": value, **extra} (extra: version, updated_at)."""
        body = {"value": value}
        body.update(extra)
        return self.request("PUT", "/api/storage/" + key, json.dumps(body),
                            headers, timeout=timeout)

    def delete(self, key, headers=None, query=""):
        return self.request("DELETE", "/api/storage/" + key + query,
                            headers=headers)

    def raw(self, data, timeout=10):
        """Sends bytes as they are (ending a request with Connection: close:
        a half-closed socket is a client abort to nginx); returns what came
        back."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            return recv_all(s)
        finally:
            s.close()


_sse_pending = weakref.WeakKeyDictionary()   # socket -> bytes of an event cut short


def sse_events(s, want, timeout=10):
    """Reads an event stream until want events came; returns them as dicts
    (id, event, data). What a chunk left of an unfinished event waits for
    the next call."""
    buf, events = _sse_pending.pop(s, b""), []
    deadline = time.monotonic() + timeout
    while len(events) < want and time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith("id: "):
                    ev["id"] = int(line[4:])
                elif line.startswith("event: "):
                    ev["event"] = line[7:]
                elif line.startswith("data: "):
                    ev["data"] = json.loads(line[6:])
            if "id" in ev:
                events.append(ev)
    _sse_pending[s] = buf
    return events


def write_tokens(path, secrets):
    """A tokens file at path (API.md 9) of secrets: name -> (token, mode,
    prefixes), put in place at once, readable by everyone."""
    with open(path + ".tmp", "w") as f:
        f.write("# name sha256 mode prefixes\n")
        for name, (tok, mode, prefixes) in secrets.items():
            digest = hashlib.sha256(tok.encode()).hexdigest()
            f.write(" ".join([name, digest, mode, *prefixes]) + "\n")
    os.chmod(path + ".tmp", 0o644)
    os.rename(path + ".tmp", path)


def recv_all(s, timeout=None):
    """What socket s sends until it closes (timeout: seconds for each
    read, None: the socket's own)."""
    if timeout is not None:
        s.settimeout(timeout)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def is_zombie(pid):
    """True for a zombie or a process already gone (reaped meanwhile: the
    read itself may fail with ESRCH)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


# -- a minimal FastCGI client, to send verstored what nginx never would ------
FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _rec(kind, content, req_id=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, kind, req_id, len(content), pad) + \
        content + b"\0" * pad


def _nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def fcgi_params(params):
    out = b""
    for k, v in params.items():
        k = k if isinstance(k, bytes) else k.encode()
        v = v if isinstance(v, bytes) else v.encode()
        out += _nv_len(len(k)) + _nv_len(len(v)) + k + v
    return out


FCGI_KEEP_CONN = 1


def fcgi_connect(sock_path, params, timeout=10, keep=False, s=None):
    """Opens a connection (or takes s, one kept open) and sends
    BEGIN_REQUEST (FCGI_KEEP_CONN with keep) and the params."""
    if s is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(sock_path)
    data = _rec(FCGI_BEGIN, struct.pack(">HB5x", 1,
                                        FCGI_KEEP_CONN if keep else 0))
    p = fcgi_params(params)
    for i in range(0, len(p), 65535):
        data += _rec(FCGI_PARAMS, p[i:i + 65535])
    data += _rec(FCGI_PARAMS, b"")
    s.sendall(data)
    return s


def fcgi_send_stdin(s, body, end=True):
    data = b""
    for i in range(0, len(body), 65535):
        data += _rec(FCGI_STDIN, body[i:i + 65535])
    if end:
        data += _rec(FCGI_STDIN, b"")
    s.sendall(data)


def fcgi_read(s, close=True):
    """Reads records until END_REQUEST; returns (headers dict, body).
    close=False leaves s open, for its next request."""
    buf, out = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, clen, pad = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + pad:
                break
            content = buf[8:8 + clen]
            buf = buf[8 + clen + pad:]
            if kind == FCGI_STDOUT:
                out += content
            elif kind == FCGI_END:
                if close:
                    s.close()
                return parse_cgi(out)
    s.close()
    return parse_cgi(out)


def parse_cgi(out):
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return headers, body


def fcgi_request(sock_path, params, body=b""):
    s = fcgi_connect(sock_path, params)
    fcgi_send_stdin(s, body)
    return fcgi_read(s)


class running:
    """with running(**kw) as srv: a server of the test's own, stopped at the
    end; a sanitizer report in its log, or its database not dropped, fails
    the test."""

    def __init__(self, **kw):
        self.srv = Server(**kw)

    def __enter__(self):
        try:
            self.srv.start()
        except Exception:
            self.srv.stop()
            raise
        return self.srv

    def __exit__(self, kind, value, tb):
        reports = self.srv.stop()
        if reports and kind is None:
            raise AssertionError("on stopping: " + reports[0])
        return False


def run_threads(n, fn):
    """Runs fn(i) in n threads at once; returns their results in order and
    re-raises the first exception."""
    import threading
    results = [None] * n
    errors = []

    def body(i):
        try:
            results[i] = fn(i)
        except BaseException as e:      # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    if errors:
        raise errors[0]
    return results
