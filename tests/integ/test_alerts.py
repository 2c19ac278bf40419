"""conf/alerts.yml as Prometheus reads it: promtool (Debian's prometheus
package; .ci/run installs it) checks the rules and runs the cases in
alerts_test.yml. Without promtool there is nothing to check with: the
tests say so and pass."""
import os
import shutil
import subprocess

import harness

ALERTS = os.path.join(harness.ROOT, "conf", "alerts.yml")
CASES = os.path.join(harness.ROOT, "tests", "integ", "alerts_test.yml")


def promtool(*args):
    if shutil.which("promtool") is None:
        print("  skipped: no promtool")
        return None
    return subprocess.run(["promtool", *args], capture_output=True,
                          text=True, timeout=120)


def test_alert_rules_check():
    r = promtool("check", "rules", ALERTS)
    assert r is None or r.returncode == 0, r.stdout + r.stderr


def test_alert_cases():
    """The conflict rate at 2% and not 0.5%, 5xx answers at 2% and not
    requests whose client left (499), as alerts_test.yml says."""
    r = promtool("test", "rules", CASES)
    assert r is None or r.returncode == 0, r.stdout + r.stderr
