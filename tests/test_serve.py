"""`tidings serve`, `dashboard` and `demo` as services: a busy port is said before any work,
Ctrl-C is the normal way to stop (quiet, exit 0), links in mail lead where the dashboard is."""

import socket
import subprocess
import threading

import pytest

from data.config import parse_config
from flows.cli import main
from notify.email import dashboard_url
from tests.services import TIMEOUT, ctrl_c, start, write_config
from tests.test_demo import free_port, wait_for


@pytest.fixture
def busy_port():
    """A port something already listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_demo_on_a_busy_port_says_so_before_the_pass(busy_port, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--port", str(busy_port)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"tidings: error: Port {busy_port} (the demo's dashboard) is already in")
    assert "`tidings demo --port 8600` or `make demo PORT=8600`" in err
    assert "running one pass" not in out and not (tmp_path / "var").exists()


@pytest.mark.parametrize("section", ["dashboard", "push"])
def test_serve_on_a_busy_port_says_which_before_any_pass(busy_port, tmp_path, capsys, section):
    config = tmp_path / "tidings.toml"
    other = "push" if section == "dashboard" else "dashboard"
    config.write_text(f"[{section}]\nport = {busy_port}\n[{other}]\nport = {free_port()}\n")
    assert main(["--config", str(config), "serve"]) == 2
    out, err = capsys.readouterr()
    assert f"{section}.port {busy_port}" in err and "is already in use on 127.0.0.1" in err
    assert err.startswith("tidings: error: ") and err.count("\n") == 1
    assert f"set another [{section}] port" in err and "running" not in out


@pytest.mark.parametrize("command", ["serve", "dashboard"])
def test_ctrl_c_stops_quietly_with_exit_0(tmp_path, command):
    port = free_port()
    write_config(tmp_path, dashboard=f"port = {port}")
    proc = start([command], tmp_path)
    wait_for(f"http://127.0.0.1:{port}/_stcore/health", proc, 300)
    if command == "serve":  # a pass has run (no source: it is quick), the service is waiting
        wait_for_line(proc, "source(s) fetched")
    output, _ = ctrl_c(proc)
    assert proc.returncode == 0, output
    assert "error" not in output.lower() and "Traceback" not in output, output


def wait_for_line(proc: subprocess.Popen, text: str) -> None:
    """Until the process says `text`; a failure, not a hang, if it never does (its children
    may keep the output open after it exited)."""
    said: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            said.append(line)
            if text in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    if not said or text not in said[-1]:
        pytest.fail(f"the output never said {text!r}: {''.join(said)[-2000:]}")


def test_links_in_mail_follow_the_dashboard_address(tmp_path):
    def url(dashboard: dict) -> str:
        return dashboard_url(parse_config({"dashboard": dashboard}, tmp_path / "t.toml"))

    assert url({}) == "http://127.0.0.1:8501"
    assert url({"port": 8612}) == "http://127.0.0.1:8612"
    assert url({"port": 8612, "base_url": "https://tidings.example/"}) == "https://tidings.example"
    everywhere = url({"address": "0.0.0.0", "port": 8612})
    assert everywhere == f"http://{socket.getfqdn()}:8612" and "0.0.0.0" not in everywhere


def test_a_pass_that_reaches_no_source_says_so(tmp_path, capsys, httpserver):
    closed = free_port()  # nothing listens there: as a machine without internet
    http = "timeout_seconds = 2\nmax_attempts = 1"
    config = write_config(tmp_path, {"blog": f"http://127.0.0.1:{closed}/feed.xml"}, http=http)
    assert main(["--config", str(config), "run"]) == 0
    out = capsys.readouterr().out
    assert "No source could be reached: this machine seems to have no internet" in out

    httpserver.expect_request("/feed.xml").respond_with_data("gone", status=404)
    write_config(tmp_path, {"blog": httpserver.url_for("/feed.xml")}, http=http)
    assert main(["--config", str(config), "run", "--all"]) == 0
    out = capsys.readouterr().out
    assert "HTTP 404" in out and "No source could be reached" not in out


def test_an_address_this_machine_cannot_listen_on_is_said_with_its_setting(
    tmp_path, capsys, monkeypatch
):
    from data.errors import TidingsError
    from flows.server import port_in_use

    elsewhere = "192.0.2.1"  # a documentation address: no interface of this machine has it
    config = write_config(tmp_path, dashboard=f'address = "{elsewhere}"\nport = {free_port()}')
    monkeypatch.setenv("TIDINGS_DASHBOARD_PASSWORD", "s3cret")  # it may listen beyond us
    assert main(["--config", str(config), "dashboard"]) == 2
    err = capsys.readouterr().err
    assert ": dashboard.port " in err and f": cannot listen on {elsewhere}: " in err, err
    with pytest.raises(
        TidingsError, match=f"^t.toml: prefect.address: cannot listen on {elsewhere}"
    ):
        port_in_use(elsewhere, 0, "t.toml: prefect.address")
