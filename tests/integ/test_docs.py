"""The pages a person reads, README.md and doc/*.md, still say what is
true: every fenced block is checked by its language (sh with bash -n and
its make targets with make -n; the curl examples of README.md and
doc/hacking.md run in order against a server of the test's own, auth
none as under make run, each answering the status its comment names;
json and yaml parse, a Prometheus scrape config passes promtool; promql
passes promtool as an alert's expression; js passes node --check; nginx
passes nginx -t in a stub configuration), or is marked as an excerpt on
the line before it (<!-- excerpt --> or <!-- excerpt: what it is -->);
nothing in doc/ or the README says "not yet" or "not built"; every
relative link resolves to a file of the repository, and its #anchor to a
heading of it; the README starts with make run and make test and keeps
to 300 lines. doc/hacking.md, "The documentation is tested", says the
same to whoever writes them."""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import harness

ROOT = harness.ROOT
README_MAX_LINES = 300
# the pages whose curl examples run against the test's server, in order
RUN_CURL = ("README.md", "doc/hacking.md")
LOCAL = "http://127.0.0.1:8080"
OPEN = re.compile(r"^( *)```([A-Za-z0-9_+-]*)\s*$")
EXCERPT = re.compile(r"^\s*<!-- excerpt(:[^>]*)? -->\s*$")
STATUS = re.compile(r"\b([2-5]\d\d)\b")
STALE = re.compile(r"\bnot (?:yet|built|implemented)\b|\bunimplemented\b|"
                   r"\buntil [^.]{0,80}\bis built\b|\bcoming soon\b|\bTODO\b",
                   re.I)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def pages():
    return ["README.md"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "doc",
                                                                 "*.md")))


def read(page):
    with open(os.path.join(ROOT, page)) as f:
        return f.read()


class Block:
    def __init__(self, page, line, lang, text, excerpt):
        self.page, self.line, self.lang = page, line, lang
        self.text, self.excerpt = text, excerpt

    def __repr__(self):
        return f"{self.page}:{self.line} ({self.lang or 'no language'})"


def blocks(page, text=None):
    """The fenced blocks of a page, each with its language, its text (the
    fence's indentation taken off) and whether the line before it marks
    it as an excerpt."""
    lines = (read(page) if text is None else text).split("\n")
    out, i, prev = [], 0, ""
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].strip() == ""
                        else lines[i])
            i += 1
        assert i < len(lines), f"{page}:{start}: a fence that never closes"
        out.append(Block(page, start, lang, "\n".join(body) + "\n",
                         bool(EXCERPT.match(prev))))
        prev = lines[i]
        i += 1
    return out


def checked(lang):
    return [b for p in pages() for b in blocks(p)
            if not b.excerpt and b.lang in lang]


# -- languages ----------------------------------------------------------

def commands(text):
    """(comment lines above it, the command) of each command in a shell
    block, backslash continuations and quotes across lines joined."""
    out, comment, cmd, fresh = [], [], "", True
    for line in text.split("\n"):
        if not cmd:
            s = line.strip()
            if s.startswith("#"):
                if fresh:
                    comment = []
                comment.append(s)
                fresh = False
                continue
            if not s:
                continue
            fresh = True
        cmd += line + "\n"
        try:
            shlex.split(cmd, comments=True)
            done = not cmd.rstrip("\n").endswith("\\")
        except ValueError:
            done = False
        if done:
            out.append((comment, cmd))
            cmd = ""
    assert not cmd, f"a command that never ends: {cmd}"
    return out


def curls(block):
    """(the status its comment names, the command) of each curl to make
    run's server in a shell block: the n-th command after a comment gets
    the n-th status the comment names."""
    out, seen = [], {}
    for comment, cmd in commands(block.text):
        if not cmd.lstrip().startswith("curl ") or LOCAL not in cmd:
            continue
        key = id(comment)
        n = seen.get(key, 0)
        seen[key] = n + 1
        codes = STATUS.findall(" ".join(comment))
        assert n < len(codes), \
            f"{block}: names no status for {cmd.strip()}"
        out.append((int(codes[n]), cmd))
    return out


def make_lines(text):
    for _, cmd in commands(text):
        words = shlex.split(cmd, comments=True)
        if words and words[0] == "make":
            yield words[1:]


def check_sh(block, tmp):
    p = subprocess.run(["bash", "-n"], input=block.text, text=True,
                       capture_output=True)
    assert p.returncode == 0, f"{block}: {p.stderr}"
    for args in make_lines(block.text):
        p = subprocess.run(["make", "-n", "-C", ROOT] + args, text=True,
                           capture_output=True, timeout=120)
        assert p.returncode == 0, f"{block}: make {' '.join(args)}: " \
            f"{p.stderr[-500:]}"


def check_json(block, tmp):
    json.loads(block.text)


def check_yaml(block, tmp):
    import yaml
    doc = yaml.safe_load(block.text)
    assert isinstance(doc, dict), f"{block}: not a mapping"
    if "scrape_configs" not in doc or shutil.which("promtool") is None:
        return
    secret = os.path.join(tmp, "credentials")
    with open(secret, "w") as f:
        f.write("token\n")
    for job in doc["scrape_configs"]:
        auth = job.get("authorization", {})
        if "credentials_file" in auth:
            auth["credentials_file"] = secret
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    p = subprocess.run(["promtool", "check", "config", path], text=True,
                       capture_output=True)
    assert p.returncode == 0, f"{block}: {p.stdout}{p.stderr}"


def check_promql(block, tmp):
    if shutil.which("promtool") is None:
        print(f"  {block}: not checked, no promtool")
        return
    expr = "".join("          " + ln + "\n" for ln in block.text.splitlines())
    path = os.path.join(tmp, "rules.yml")
    with open(path, "w") as f:
        f.write("groups:\n  - name: docs\n    rules:\n      - alert: Docs\n"
                "        expr: |\n" + expr)
    p = subprocess.run(["promtool", "check", "rules", path], text=True,
                       capture_output=True)
    assert p.returncode == 0, f"{block}: {p.stdout}{p.stderr}"


def check_js(block, tmp):
    path = os.path.join(tmp, "block.mjs")
    with open(path, "w") as f:
        f.write(block.text)
    p = subprocess.run(["node", "--check", path], text=True,
                       capture_output=True)
    assert p.returncode == 0, f"{block}: {p.stderr}"


def nginx_parses(text, tmp):
    """Whether text is a valid nginx configuration in the main, http or
    server context: the error of the last one tried, or None."""
    paths = "".join(f"{k}_temp_path {tmp}/{k};\n" for k in (
        "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
    http = f"access_log off;\n{paths}"
    server = "listen 127.0.0.1:9;\n"
    err = None
    for conf in (main + text + ("" if re.search(r"(?m)^\s*events\b", text)
                                else "events {}\n"),
                 main + "events {}\nhttp {\n" + http + text + "}\n",
                 main + "events {}\nhttp {\n" + http + "server {\n" + server
                 + text + "}\n}\n"):
        path = os.path.join(tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        p = subprocess.run([harness.NGINX, "-t", "-q", "-p", tmp, "-c", path],
                           text=True, capture_output=True)
        if p.returncode == 0:
            return None
        err = p.stderr
    return err


def check_nginx(block, tmp):
    err = nginx_parses(block.text, tmp)
    assert err is None, f"{block}: {err}"


CHECKS = {"sh": check_sh, "bash": check_sh, "json": check_json,
          "yaml": check_yaml, "promql": check_promql, "js": check_js,
          "nginx": check_nginx}


# -- tests --------------------------------------------------------------

def test_every_block_is_checked_or_an_excerpt():
    wrong = [b for p in pages() for b in blocks(p)
             if not b.excerpt and b.lang not in CHECKS]
    assert not wrong, f"neither a language checked here ({sorted(CHECKS)}) " \
        f"nor marked <!-- excerpt -->: {wrong}"


def test_blocks_parse_as_their_language():
    tmp = tempfile.mkdtemp(prefix="verstore-docs-")
    try:
        n = 0
        for block in checked(CHECKS):
            CHECKS[block.lang](block, tmp)
            n += 1
        assert n > 10, n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_curl(srv, cmd):
    """The status curl got for cmd, its URL pointed at srv."""
    shim = ('curl() { command curl -sS -o /dev/null -w "%{http_code}" '
            '--max-time 5 "$@"; }\n')
    p = subprocess.run(["bash", "-c", shim + cmd.replace(
        LOCAL, f"http://127.0.0.1:{srv.port}")], text=True,
        capture_output=True, timeout=30)
    # 28: the time ran out, as it does on an event stream that stays open
    assert p.returncode in (0, 28) and p.stdout.isdigit(), (cmd, p.stderr)
    return int(p.stdout)


def test_curl_examples_answer_as_they_say():
    examples = [(b, code, cmd) for p in RUN_CURL for b in blocks(p)
                if b.lang == "sh" and not b.excerpt
                for code, cmd in curls(b)]
    assert len(examples) > 20, len(examples)
    with harness.running(pg=False) as srv:
        for block, code, cmd in examples:
            got = run_curl(srv, cmd)
            assert got == code, f"{block}: {cmd.strip()}\nanswered {got}, " \
                f"the text says {code}"


def test_nothing_is_said_to_be_missing():
    wrong = []
    for path in ["README.md"] + sorted(glob.glob(os.path.join(ROOT, "doc",
                                                              "*"))):
        page = os.path.relpath(os.path.join(ROOT, path), ROOT)
        for n, line in enumerate(read(page).split("\n"), 1):
            if STALE.search(line):
                wrong.append(f"{page}:{n}: {line.strip()}")
    assert not wrong, "\n".join(wrong)


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip()
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page):
    text = read(page)
    out, inside = set(), False
    for n, line in enumerate(text.split("\n"), 1):
        if OPEN.match(line) or (inside and line.strip() == "```"):
            inside = not inside
            continue
        m = re.match(r"#{1,6} (.*)", line)
        if m and not inside:
            out.add(slug(m.group(1)))
    return out


def test_relative_links_resolve():
    wrong = []
    root = os.path.realpath(ROOT)
    for page in pages():
        text = re.sub(r"`[^`\n]*`", "", read(page))
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.realpath(os.path.join(ROOT, os.path.dirname(page),
                                                 path)) if path else \
                os.path.join(root, page)
            if not full.startswith(root + os.sep) or not os.path.exists(full):
                wrong.append(f"{page}: {target}: no such file here")
            elif anchor and full.endswith(".md") and anchor not in \
                    anchors(os.path.relpath(full, root)):
                wrong.append(f"{page}: {target}: no such heading")
    assert not wrong, "\n".join(wrong)


def test_readme_starts_with_the_two_commands_and_stays_short():
    text = read("README.md")
    lines = text.split("\n")
    assert len(lines) - 1 <= README_MAX_LINES, len(lines)
    first = blocks("README.md")[0]
    before = "\n".join(lines[:first.line - 1]).strip()
    assert before == "# verstore", before
    words = [ln.split("#")[0].split() for ln in first.text.splitlines()]
    assert words[:2] == [["make", "run"], ["make", "test"]], first.text


def test_the_checks_can_fail():
    """A stale line, a wrong status, an unmarked drawing, a broken shell
    line and a bad nginx block are each caught."""
    assert STALE.search("the change feed and history are not yet")
    page = "```sh\n# create (201)\ncurl -i -X PUT -d '{\"a\":\n 1}' " \
        f"{LOCAL}/api/storage/x\n# names none\ncurl {LOCAL}/api/health\n" \
        "```\n\n```\n a drawing\n```\n"
    found = blocks("README.md", page)
    assert [b.lang for b in found] == ["sh", ""] and not found[1].excerpt
    try:
        curls(found[0])
        raise AssertionError("a curl that names no status went through")
    except AssertionError as e:
        assert "names no status" in str(e), e
    assert commands(found[0].text)[0][0] == ["# create (201)"]
    tmp = tempfile.mkdtemp(prefix="verstore-docs-")
    try:
        try:
            check_sh(Block("x", 1, "sh", "if then\n", False), tmp)
            raise AssertionError("bash -n took a broken line")
        except AssertionError as e:
            assert "x:1" in str(e), e
        assert nginx_parses("location / { retrun 200; }\n", tmp)
        assert nginx_parses("location / { return 200; }\n", tmp) is None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
