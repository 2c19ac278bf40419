"""A PostgreSQL cluster of two nodes, a primary and a synchronous standby,
with automatic failover by Patroni on etcd, for the failover tests: all
on 127.0.0.1 at free ports, in one temporary directory owned by the
postgres user (PostgreSQL and Patroni refuse root), started and removed
by the test.

  with Cluster() as c:
      c.conninfo          # both nodes, target_session_attrs=read-write
      c.primary()         # the node that leads now (Patroni's REST API)
      c.kill_postmaster(node)

missing() says what is not installed (None: everything is)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from harness import free_port

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PATRONI = shutil.which("patroni") or "/usr/bin/patroni"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
PSQL = os.path.join(PG_BIN, "psql")


def missing():
    """What the cluster needs and is not installed, or None."""
    need = [(os.path.join(PG_BIN, "initdb"), "postgresql-15"),
            (PATRONI, "patroni"), (ETCD, "etcd-server")]
    gone = [pkg for path, pkg in need if not os.access(path, os.X_OK)]
    return ", ".join(gone) or None


def as_pg(argv):
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0
            else []) + argv


def wait_for(cond, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting: " + what)
        time.sleep(step)


class Node:
    def __init__(self, cluster, i):
        self.name = f"n{i}"
        self.dir = os.path.join(cluster.dir, self.name)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.api = free_port()
        self.log = os.path.join(self.dir, "patroni.log")
        self.proc = None
        self.conf = os.path.join(self.dir, "patroni.yml")
        # JSON is YAML: no YAML writer needed
        doc = {
            "scope": cluster.scope, "name": self.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{self.api}",
                        "connect_address": f"127.0.0.1:{self.api}"},
            "etcd3": {"hosts": [f"127.0.0.1:{cluster.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": 20, "loop_wait": 1, "retry_timeout": 5,
                    # a primary whose postgres dies fails over at once,
                    # rather than being restarted in place
                    "primary_start_timeout": 0,
                    "synchronous_mode": True,
                    "maximum_lag_on_failover": 1048576,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "synchronous_commit": "on",
                            "max_connections": 200,
                            "wal_keep_size": "128MB",
                        }},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"},
                           {"auth": "trust"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.port}",
                "connect_address": f"127.0.0.1:{self.port}",
                "data_dir": self.data,
                "bin_dir": PG_BIN,
                "pgpass": os.path.join(self.dir, "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres",
                                  "password": "postgres"},
                    "replication": {"username": "postgres",
                                    "password": "postgres"},
                    "rewind": {"username": "postgres",
                               "password": "postgres"},
                },
                "parameters": {"unix_socket_directories": self.dir},
                # a spread checkpoint would hold the clone for minutes
                "basebackup": [{"checkpoint": "fast"}],
                "pg_hba": ["local all all trust",
                           "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"],
            },
            "tags": {"nofailover": False, "noloadbalance": False},
        }
        os.makedirs(self.dir, mode=0o700)
        with open(self.conf, "w") as f:
            json.dump(doc, f, indent=1)
        cluster.own(self.dir)
        cluster.own(self.conf)

    def start(self):
        self.proc = subprocess.Popen(
            as_pg([PATRONI, self.conf]), stdout=open(self.log, "a"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def status(self):
        """Patroni's view of this node (GET /patroni), or None."""
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.api}/patroni", timeout=2) as r:
                return json.loads(r.read())
        except OSError as e:
            body = getattr(e, "read", None)
            if body is not None:      # 503 for a replica: a body all the same
                try:
                    return json.loads(body())
                except ValueError:
                    return None
            return None

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def sql(self, sql, db="postgres"):
        p = subprocess.run(
            [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             f"host=127.0.0.1 port={self.port} user=postgres dbname={db}",
             "-c", sql], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: {sql!r}: {p.stderr.strip()}")
        return p.stdout.strip()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()       # Patroni stops postgres, then itself
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


class Cluster:
    def __init__(self, dbname="verstore"):
        self.dir = tempfile.mkdtemp(prefix="verstore-ha-")
        os.chmod(self.dir, 0o755)
        self.own(self.dir)
        self.scope = "vs" + os.urandom(3).hex()
        self.dbname = dbname
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.etcd = None
        self.nodes = [Node(self, i) for i in range(2)]
        self.conninfo = (
            "host=" + ",".join("127.0.0.1" for _ in self.nodes) +
            " port=" + ",".join(str(n.port) for n in self.nodes) +
            f" dbname={dbname} user=postgres target_session_attrs=read-write")

    @staticmethod
    def own(path):
        if os.geteuid() == 0:
            shutil.chown(path, "postgres")

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.dump()
            self.close()
            raise
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.dump()
        self.close()
        return False

    def start(self):
        ed = os.path.join(self.dir, "etcd")
        self.etcd = subprocess.Popen(
            as_pg([ETCD, "--name", "e", "--data-dir", ed,
                   "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
                   "--advertise-client-urls",
                   f"http://127.0.0.1:{self.etcd_port}",
                   "--listen-peer-urls", f"http://127.0.0.1:{self.etcd_peer}",
                   "--initial-advertise-peer-urls",
                   f"http://127.0.0.1:{self.etcd_peer}",
                   "--initial-cluster", f"e=http://127.0.0.1:{self.etcd_peer}",
                   "--listen-metrics-urls", "", "--log-level", "warn"]),
            stdout=open(os.path.join(self.dir, "etcd.log"), "a"),
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._etcd_up, 15, "etcd")
        self.nodes[0].start()
        wait_for(lambda: self.primary() is self.nodes[0], 40,
                 "the first node to bootstrap as the primary")
        self.nodes[1].start()
        self.nodes[0].sql(f"CREATE DATABASE {self.dbname}")
        self.wait_sync()

    def _etcd_up(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.etcd_port}/health",
                    timeout=1) as r:
                return json.loads(r.read()).get("health") == "true"
        except OSError:
            return False

    def primary(self):
        """The node that Patroni runs as the primary now, or None."""
        for n in self.nodes:
            s = n.status()
            if s and s.get("role") in ("master", "primary") and \
                    s.get("state") == "running":
                return n
        return None

    def standby(self):
        p = self.primary()
        return next((n for n in self.nodes if n is not p), None)

    def sync_standby(self):
        """The node that replicates synchronously from the primary and
        that Patroni has recorded so (the one it may promote), or None."""
        p = self.primary()
        if p is None:
            return None
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{p.api}/cluster", timeout=2) as r:
                members = json.loads(r.read())["members"]
            names = p.sql("SELECT application_name FROM pg_stat_replication"
                          " WHERE sync_state = 'sync' AND state = "
                          "'streaming'").split()
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        sync = [m["name"] for m in members if m.get("role") in (
            "sync_standby", "sync standby") and m["name"] in names]
        return next((n for n in self.nodes if n.name in sync), None)

    def wait_sync(self, timeout=60):
        """Until a standby replicates synchronously: the standby."""
        return wait_for(self.sync_standby, timeout,
                        "a synchronous standby", step=0.2)

    def kill_postmaster(self, node):
        pid = node.postmaster_pid()
        assert pid is not None, node.name
        os.kill(pid, signal.SIGKILL)
        return pid

    def dump(self):
        for name in ("etcd.log",) + tuple(
                os.path.join(n.name, "patroni.log") for n in self.nodes):
            path = os.path.join(self.dir, name)
            try:
                with open(path) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            print(f"---- {name} ----")
            print("\n".join([ln for ln in lines if "no action" not in ln
                             and "in progress" not in ln][-40:]))

    def close(self):
        for n in self.nodes:
            n.stop()
        if self.etcd is not None and self.etcd.poll() is None:
            os.killpg(self.etcd.pid, signal.SIGKILL)
            self.etcd.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
