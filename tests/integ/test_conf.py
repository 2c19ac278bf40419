"""Fail fast and say why: verstored -t names the bad line and the form it
expects, and -t and start-up both check, as the user that runs them, that
the data directory and the socket's directory can be used."""
import os
import shutil
import subprocess
import tempfile

import harness


def verstored(*args, user=None, exe=None):
    """exe: a copy another user can run (harness.public_copy), for user."""
    cmd = [exe or os.path.join(harness.BUILD, "verstored"), *args]
    if user is not None:
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def test_bad_value_names_the_expected_form():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "v.conf")
        for text, want in (
                ("map_size 1GB\n",
                 'v.conf:1: map_size: expected bytes with a k, M, G or T '
                 'suffix, at least 1M, got "1GB"'),
                ("\nsocket_mode 999\n",
                 'v.conf:2: socket_mode: expected octal permission bits '
                 'such as 0660, got "999"'),
                ("durability lazy\n",
                 'durability: expected strict or relaxed, got "lazy"'),
                ("bucket_count_max 1000\n",
                 'bucket_count_max: expected a power of two')):
            write(conf, text)
            r = verstored("-t", "-c", conf)
            assert r.returncode == 1 and want in r.stderr, (text, r.stderr)
            assert "test failed" in r.stderr


def test_paths_and_group_are_checked():
    d = tempfile.mkdtemp(prefix="verstore-conf-")
    try:
        os.chmod(d, 0o755)
        conf = os.path.join(d, "v.conf")
        data = os.path.join(d, "data")
        sock = os.path.join(d, "run", "v.sock")
        write(conf, f"data_dir {data}\nsocket {sock}\n"
                    "socket_group nosuchgroup\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1, r
        assert "socket_group nosuchgroup: no such group" in r.stderr
        write(conf, f"data_dir /proc/none/data\nsocket {sock}\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1 and "cannot be made" in r.stderr, r.stderr
        write(conf, f"data_dir {data}\nsocket {sock}\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 0 and "successful" in r.stderr, r.stderr
        if os.geteuid() == 0 and shutil.which("runuser"):
            # a data dir the service user cannot write: -t and start-up
            # both refuse at once, saying whom to give which rights
            exe = harness.public_copy(os.path.join(harness.BUILD,
                                                   "verstored"),
                                      os.path.join(d, "verstored"))
            os.makedirs(data)
            os.chmod(data, 0o755)
            r = verstored("-t", "-c", conf, user="nobody", exe=exe)
            assert r.returncode == 1, r
            assert f"data_dir {data}: Permission denied" in r.stderr, r.stderr
            assert "read, write and search rights" in r.stderr
            r = verstored("-c", conf, user="nobody", exe=exe)
            assert r.returncode == 1 and "Permission denied" in r.stderr, r
            assert not os.path.exists(sock)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_auth_settings_name_the_line():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "v.conf")
        base = f"data_dir {d}/data\nsocket {d}/run/v.sock\n"
        for text, want in (
                ("auth token\n",
                 'v.conf:3: auth: token needs a "tokens FILE" line'),
                ("auth tokens\n",
                 'v.conf:3: auth: expected none, token or remote_user, '
                 'got "tokens"'),
                ("cors_origins https://a.example https://B.example\n",
                 'v.conf:3: cors_origins: expected origins such as '
                 'https://app.example.com or http://localhost:8080 '
                 '(scheme://host[:port], lower case, no path), '
                 'got "https://B.example"'),
                ("metrics_public yes\n",
                 'v.conf:3: metrics_public: expected on or off')):
            write(conf, base + text)
            r = verstored("-t", "-c", conf)
            assert r.returncode == 1 and want in r.stderr, (text, r.stderr)
            assert "test failed" in r.stderr
        write(conf, base + "cors_origins https://a.example http://b:8080\n"
                           "metrics_public on\nauth none\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 0 and "successful" in r.stderr, r.stderr
