"""Isolation of the Docker backend, each property tried from inside a sandboxed project."""

import pytest

from healer.errors import SandboxError, SandboxUnavailableError
from healer.sandbox import images
from healer.sandbox.docker import DockerSandbox, connect

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def sandbox():
    try:
        connect()
    except SandboxUnavailableError as exc:
        pytest.skip(f"no Docker daemon answers: {exc.message}")
    try:
        images.image_for("python")
    except SandboxError:
        images.build_images(progress=lambda _: None)
    box = DockerSandbox(memory="256m", cpus=1.0, pids=128)
    yield box
    box.close()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "app.py").write_text("print('hello from the app')\n")
    return tmp_path


def test_a_command_runs_in_the_project_folder(sandbox, project):
    result = sandbox.run(project, "pwd && id -u && python3 app.py", timeout=30)
    assert result.ok
    assert result.stdout.split() == ["/work", "1000", "hello", "from", "the", "app"]


def test_no_network_interface_but_loopback(sandbox, project):
    result = sandbox.run(project, "ls /sys/class/net", timeout=30)
    assert result.stdout.split() == ["lo"]


def test_a_registry_host_cannot_be_reached(sandbox, project):
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('pypi.org', 443), timeout=5)\n"
        "    print('REACHED')\n"
        "except OSError as exc:\n"
        "    print('BLOCKED', type(exc).__name__)\n"
    )
    (project / "probe.py").write_text(probe)
    result = sandbox.run(project, "python3 probe.py", timeout=30)
    assert "BLOCKED" in result.stdout and "REACHED" not in result.stdout


@pytest.mark.parametrize("target", ["/etc/healer-was-here", "/usr/bin/healer-was-here"])
def test_the_root_file_system_is_read_only(sandbox, project, target):
    result = sandbox.run(project, f"touch {target}", timeout=30)
    assert result.exit_code != 0
    assert "Read-only file system" in result.stderr


def test_writes_in_work_never_reach_the_host_folder(sandbox, project):
    result = sandbox.run(project, "echo changed > app.py && touch new.txt && cat app.py", timeout=30)
    assert result.ok and result.stdout.strip() == "changed"
    assert (project / "app.py").read_text() == "print('hello from the app')\n"
    assert not (project / "new.txt").exists()


def test_host_secrets_do_not_enter(sandbox, project, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = sandbox.run(project, "env", timeout=30)
    assert result.ok
    assert "sk-secret" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout


def test_a_fork_bomb_is_contained(sandbox, project):
    result = sandbox.run(project, "bomb() { bomb | bomb & }; bomb; sleep 5", timeout=10)
    assert "Cannot fork" in result.stderr or result.timed_out
    after = sandbox.run(project, "echo alive", timeout=30)
    assert after.stdout.strip() == "alive"


def test_the_process_limit_holds_at_its_number(project):
    box = DockerSandbox(memory="256m", pids=48)
    # a child shell spawns until it cannot (the shell gives up at the first failed fork); this
    # one then counts the processes with builtins only, since no fork is left
    spawn = ("sh -c 'i=0; while [ $i -lt 150 ]; do sleep 30 & i=$((i+1)); done'; "
             "set -- /proc/[0-9]*; echo $#")
    result = box.run(project, spawn, timeout=60)
    running = int(result.stdout.split()[-1])
    assert "Cannot fork" in result.stderr  # the 150 did not all start...
    assert 40 <= running <= 48  # ...because the limit, not something else, stopped them


def test_memory_past_the_limit_is_oom_killed(sandbox, project):
    result = sandbox.run(project, "python3 -c 'x = bytearray(800 * 2**20)'", timeout=60)
    assert result.oom_killed
    assert not result.ok


def test_sleeping_past_the_timeout_is_killed(sandbox, project):
    result = sandbox.run(project, "sleep 60", timeout=2)
    assert result.timed_out
    assert result.duration < 30


def test_a_failing_command_is_a_result_not_an_exception(sandbox, project):
    result = sandbox.run(project, "echo to-stderr >&2; exit 3", timeout=30)
    assert result.exit_code == 3 and result.stderr.strip() == "to-stderr"


def test_dependencies_are_installed_once_and_visible_offline(sandbox, project):
    (project / "requirements.txt").write_text("six\n")
    (project / "use_six.py").write_text("import six\nprint(six.PY3)\n")
    image = images.image_for("python")
    sandbox._remove_volume(sandbox._volume_name(project, image))  # install for real
    first = sandbox.prepare(project)
    again = sandbox.prepare(project)
    result = sandbox.run(project, "python3 use_six.py", timeout=30)
    assert first.ok, first.stderr
    assert "Successfully installed six" in first.stdout
    assert "cached" in again.stdout
    assert result.ok and result.stdout.strip() == "True"


@pytest.fixture
def host_listener():
    """A TCP listener on every address of this host; yields (port, connections seen)."""
    import socket
    import threading

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    seen: list[str] = []

    def accept() -> None:
        while True:
            try:
                conn, peer = server.accept()
            except OSError:
                return
            seen.append(peer[0])
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], seen
    server.close()


PROBE = ("import socket, sys\n"
         "gateway = [l.split()[2] for l in open('/proc/net/route').read().splitlines()[1:]"
         " if l.split()[1] == '00000000'][0]\n"
         "ip = socket.inet_ntoa(bytes.fromhex(gateway)[::-1])\n"
         "try:\n    socket.create_connection((ip, int(sys.argv[1])), timeout=3)\n"
         "    print('reached', ip)\nexcept OSError as exc:\n    print('blocked', ip, exc)\n")


def test_the_install_network_reaches_neither_the_host_nor_private_ranges(sandbox, tmp_path,
                                                                          host_listener):
    import os

    from healer.sandbox import egress

    port, seen = host_listener
    network, restriction = egress.install_network(sandbox.client)
    if network == "bridge":
        pytest.skip(f"no restricted install network here: {restriction}")
    image = images.image_for("python")
    out = sandbox.client.containers.run(image, ["python3", "-c", PROBE, str(port)],
                                        network=network, remove=True, user="1000:1000")
    assert b"blocked" in out and seen == []
    if os.geteuid() == 0:  # the control: Docker's default bridge does reach the host
        control = sandbox.client.containers.run(image, ["python3", "-c", PROBE, str(port)],
                                                network="bridge", remove=True)
        assert b"reached" in control
