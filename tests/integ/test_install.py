"""make install DESTDIR=...: a working tree of files, an empty tokens
file among them; the systemd unit passes systemd-analyze verify and rates
well under 5 in its security analysis; the client that the example nginx
site serves, and its command, which works against a real server, with
its manual beside verstored's."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import harness

CLIENT = "usr/local/share/verstore/client"


def test_make_install_lays_out_a_working_tree():
    d = tempfile.mkdtemp(prefix="verstore-inst-")
    try:
        subprocess.run(["make", "-s", "-C", harness.ROOT, "install",
                        f"DESTDIR={d}", f"BUILD={harness.BUILD}"],
                       check=True, capture_output=True, timeout=300)
        exe = os.path.join(d, "usr/local/sbin/verstored")
        conf = os.path.join(d, "etc/verstore/verstore.conf")
        unit = os.path.join(d, "usr/local/lib/systemd/system/verstored.service")
        for f in (exe, conf, unit, os.path.join(d, "usr/local/share/man/man8/verstored.8"),
                  os.path.join(d, "usr/local/share/man/man1/verstore.1"),
                  os.path.join(d, "usr/local/share/verstore/nginx.conf.example"),
                  os.path.join(d, "usr/local/share/verstore/API.md"),
                  os.path.join(d, "usr/local/share/verstore/alerts.yml")):
            assert os.path.isfile(f), f
        assert os.access(exe, os.X_OK)
        # the example site serves the installed client at /verstore.js,
        # /offline.js and /conflict.js
        site = open(os.path.join(d, "usr/local/share/verstore/nginx.conf.example")).read()
        aliases = re.findall(r"^\s*alias (\S+);", site, re.M)
        assert sorted(aliases) == [f"/{CLIENT}/conflict.js",
                                   f"/{CLIENT}/offline.js",
                                   f"/{CLIENT}/verstore.js"], aliases
        for a in aliases:
            assert os.path.isfile(d + a), a
        for f in ("verstore.js", "offline.js", "conflict.js", "package.json",
                  "types/verstore.d.ts", "types/offline.d.ts",
                  "types/conflict.d.ts"):
            assert os.path.isfile(os.path.join(d, CLIENT, f)), f
        # so do the Apache and lighttpd sites, and lighttpd's error bodies
        # are where its site looks for them
        share = os.path.join(d, "usr/local/share/verstore")
        site = open(os.path.join(share, "apache.conf.example")).read()
        aliases = re.findall(r"^\s*Alias \S+ (\S+)$", site, re.M)
        assert sorted(aliases) == [f"/{CLIENT}/conflict.js",
                                   f"/{CLIENT}/offline.js",
                                   f"/{CLIENT}/verstore.js"], aliases
        site = open(os.path.join(share, "lighttpd.conf.example")).read()
        aliases = re.findall(r'^\s*"/\w+\.js" => "(\S+)",$', site, re.M)
        assert sorted(aliases) == [f"/{CLIENT}/conflict.js",
                                   f"/{CLIENT}/offline.js",
                                   f"/{CLIENT}/verstore.js"], aliases
        prefixes = re.findall(r'errorfile-prefix = "(\S+)"', site)
        assert prefixes, site
        for p in prefixes:
            for status in (400, 413, 503):
                body = json.load(open(f"{d}{p}{status}.html"))
                assert body["status"] == status, (p, body)
        check_client_command(d)
        r = subprocess.run([exe, "--version"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith("verstored "), r
        # an empty tokens file, 0640, that the installed conf names
        tokens = os.path.join(d, "etc/verstore/tokens")
        assert os.path.getsize(tokens) == 0
        assert os.stat(tokens).st_mode & 0o777 == 0o640
        text = open(conf).read()
        assert "\nauth token\n" in text
        assert "\ntokens /etc/verstore/tokens\n" in text
        checked = os.path.join(d, "checked.conf")
        with open(checked, "w") as f:
            f.write(text.replace("tokens /etc/verstore/tokens",
                                 f"tokens {tokens}"))
        r = subprocess.run([exe, "-t", "-c", checked], capture_output=True,
                           text=True)
        assert r.returncode == 0 and "successful" in r.stderr, r.stderr
        text = open(unit).read()
        assert "ExecStart=/usr/local/sbin/verstored -c /etc/verstore/verstore.conf" in text
        # a second install keeps the configuration and the tokens file
        # an operator edited
        with open(conf, "a") as f:
            f.write("\nworkers 3\n")
        r = subprocess.run([exe, "token", "add", "alice", "-c", checked],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        subprocess.run(["make", "-s", "-C", harness.ROOT, "install",
                        f"DESTDIR={d}", f"BUILD={harness.BUILD}"],
                       check=True, capture_output=True, timeout=300)
        assert "workers 3" in open(conf).read()
        assert open(tokens).read().startswith("alice ")
        if shutil.which("systemd-analyze"):
            # verify wants the binary at its path: point a copy at DESTDIR
            copy = os.path.join(d, "verstored.service")
            with open(copy, "w") as f:
                f.write(text.replace("/usr/local/sbin/verstored", exe))
            r = subprocess.run(["systemd-analyze", "verify", copy],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                copy], capture_output=True, text=True,
                               timeout=60)
            m = re.search(r"Overall exposure level for verstored.service: "
                          r"([0-9.]+)", r.stdout + r.stderr)
            assert m and float(m.group(1)) < 2.0, r.stdout[-500:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_client_command(d):
    """PREFIX/bin/verstore is a link to the installed command, which runs
    from there against a real server (skipped without node)."""
    cmd = os.path.join(d, "usr/local/bin/verstore")
    assert os.path.islink(cmd)
    assert os.path.samefile(cmd, os.path.join(d, CLIENT, "bin/verstore"))
    man = os.path.join(d, "usr/local/share/man/man1/verstore.1")
    with open(man) as f:
        assert f.read() == open(os.path.join(harness.ROOT, "doc",
                                             "verstore.1")).read()
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", man], capture_output=True,
                           text=True, timeout=60,
                           env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        assert r.returncode == 0 and "--if-version" in r.stdout, r.stderr
    if shutil.which("node") is None:
        print("  skipped the command: no node")
        return
    r = subprocess.run([cmd, "help", "put"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: verstore put"), r
    with harness.running(workers=1, threads=2) as srv:
        env = dict(os.environ, VERSTORE_URL=f"http://127.0.0.1:{srv.port}")
        r = subprocess.run([cmd, "put", "installed", '{"n": 1}'], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([cmd, "get", "installed"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and json.loads(r.stdout)["value"] == {"n": 1}, r


def test_prefix_takes_the_configuration_along():
    """make install PREFIX=DIR (no DESTDIR) writes under DIR alone: the
    configuration in DIR/etc/verstore, named so by the unit and the
    configuration itself; SYSCONFDIR= still puts it elsewhere."""
    d = tempfile.mkdtemp(prefix="verstore-prefix-")
    try:
        # what it would run: no path outside DIR but the sources
        r = subprocess.run(["make", "-n", "-s", "-C", harness.ROOT,
                            "install", f"PREFIX={d}",
                            f"BUILD={harness.BUILD}"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outside = [p for p in re.findall(r"(?<![\w.|])/[\w./-]+", r.stdout)
                   if not p.startswith((d, harness.ROOT, "/dev/null"))]
        assert outside == [], outside
        subprocess.run(["make", "-s", "-C", harness.ROOT, "install",
                        f"PREFIX={d}", f"BUILD={harness.BUILD}"],
                       check=True, capture_output=True, timeout=300)
        conf = os.path.join(d, "etc/verstore/verstore.conf")
        assert f"\ntokens {d}/etc/verstore/tokens\n" in open(conf).read()
        assert os.path.isfile(os.path.join(d, "etc/verstore/tokens"))
        unit = open(os.path.join(d, "lib/systemd/system/verstored.service"))
        assert f"ExecStart={d}/sbin/verstored -c {conf}" in unit.read()
        other = os.path.join(d, "conf")
        subprocess.run(["make", "-s", "-C", harness.ROOT, "install",
                        f"PREFIX={d}", f"SYSCONFDIR={other}",
                        f"BUILD={harness.BUILD}"],
                       check=True, capture_output=True, timeout=300)
        assert os.path.isfile(os.path.join(other, "verstore/verstore.conf"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
