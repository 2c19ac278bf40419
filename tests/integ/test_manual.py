"""doc/verstored.8 is verstored's manual: its SYNOPSIS has every form of
the command that verstored --help prints, with the same words, arguments
and options, no more and no less; its EXIT STATUS every status that the
help lists, which are those the program exits with; and it formats
without a groff warning (as client/test/cli-man.test.js checks
doc/verstore.1)."""
import os
import re
import shutil
import subprocess
import tempfile

import harness

MAN = os.path.join(harness.ROOT, "doc", "verstored.8")
MACROS = {"Nm", "Cm", "Ar", "Op", "Oo", "Oc", "Ns"}


def verstored(*args):
    return subprocess.run([os.path.join(harness.BUILD, "verstored"), *args],
                          capture_output=True, text=True, timeout=30)


def section(page, name):
    """The lines of the page's section name."""
    at = page.index(f"\n.Sh {name}\n") + len(name) + 6
    end = page.find("\n.Sh ", at)
    return page[at:end if end >= 0 else None].splitlines()


def man_forms(page):
    """Each .Nm of the SYNOPSIS as its words in order: commands and
    arguments as written, options with their dashes."""
    forms = []
    for line in section(page, "SYNOPSIS"):
        if line == ".Nm":
            forms.append([])
            continue
        words = line.lstrip(".").split()
        i = 0
        while i < len(words):
            w = words[i]
            # Fl a | b: both are options
            if (w == "Fl" or (w == "|" and words[0] == "Fl")) and \
                    i + 1 < len(words):
                forms[-1].append("-" + words[i + 1].replace("\\-", "-"))
                i += 2
                continue
            if w not in MACROS and w not in ("|", "..."):
                forms[-1].append(w.rstrip(","))
            i += 1
    return sorted(forms)


def help_forms(text):
    """The same of the usage lines that verstored --help prints."""
    forms = []
    for line in text.split("\n\n")[1].splitlines():
        line = re.sub(r"^usage: ", "", line).strip()
        if not line.startswith("verstored"):
            continue        # a description's own line
        form = re.split(r"\s{2,}", line)[0]
        forms.append([w for w in re.sub(r"[\[\]]|\.\.\.", " ",
                                        form).split()[1:] if w != "|"])
    return sorted(forms)


def test_synopsis_is_the_programs():
    r = verstored("--help")
    assert r.returncode == 0, r
    page = open(MAN).read()
    assert man_forms(page) == help_forms(r.stdout), \
        (man_forms(page), help_forms(r.stdout))
    # and each form is one the program takes: the usage it prints on a
    # mistake names the same ones
    r2 = verstored("--nosuch")
    assert r2.returncode == 2
    assert help_forms("\n\n" + r2.stderr) == help_forms(r.stdout), r2.stderr


def test_exit_status_is_the_programs():
    page = open(MAN).read()
    man = [m.group(1) for m in (re.match(r"\.It (\d+)$", line)
                                for line in section(page, "EXIT STATUS"))
           if m]
    text = verstored("--help").stdout
    prog = re.findall(r"(?m)^  (\d+)  ", text.split("\nexit status:\n")[1])
    assert man == prog == ["0", "1", "2"], (man, prog)
    # which are what it exits with
    d = tempfile.mkdtemp(prefix="verstore-man-")
    try:
        conf = os.path.join(d, "v.conf")
        with open(conf, "w") as f:
            f.write(f"data_dir {d}/data\nsocket {d}/run/v.sock\n")
        assert verstored("-t", "-c", conf).returncode == 0
        assert verstored("--version").returncode == 0
        with open(conf, "a") as f:
            f.write("workers many\n")
        assert verstored("-t", "-c", conf).returncode == 1
        assert verstored("-c", conf).returncode == 1
        for argv in (["--nosuch"], ["token"], ["backup"], ["-t", "x"]):
            r = verstored(*argv)
            assert r.returncode == 2 and "usage:" in r.stderr, (argv, r)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_formats_without_a_warning():
    if shutil.which("groff") is None:
        print("  skipped: no groff")
        return
    p = subprocess.run(["groff", "-mdoc", "-Tutf8", "-ww", "-z", MAN],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
