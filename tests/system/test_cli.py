"""The spirelet command line: subcommands, flags, config validation,
start-up, graceful stop and log handling, driving the real binary."""
import json
import os
import signal
import subprocess

from conftest import wait_for, wait_for_socket


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=30,
                          **kw)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_version(spirelet):
    r = run([spirelet, "version"])
    assert r.returncode == 0
    assert r.stdout.strip() != ""
    assert r.stdout.strip()[0].isdigit()


def test_help_lists_commands(spirelet):
    r = run([spirelet, "help"])
    assert r.returncode == 0
    for words in ("run", "server run", "agent run", "validate",
                  "server healthcheck", "agent healthcheck"):
        assert words in r.stdout


def test_no_command_is_usage_error(spirelet):
    r = run([spirelet])
    assert r.returncode == 2
    assert "Usage" in r.stderr


def test_unknown_command_is_usage_error(spirelet):
    r = run([spirelet, "frobnicate"])
    assert r.returncode == 2
    assert "unknown command" in r.stderr
    assert "Usage" in r.stderr
    assert r.stdout == ""


def test_unknown_flag_is_usage_error(spirelet):
    r = run([spirelet, "server", "run", "-noSuchFlag"])
    assert r.returncode == 2
    assert "flag provided but not defined: -noSuchFlag" in r.stderr
    assert "-config" in r.stderr


def test_flag_without_value(spirelet):
    r = run([spirelet, "validate", "-config"])
    assert r.returncode == 2
    assert "flag needs an argument: -config" in r.stderr


def test_validate_good_spire_style_config(spirelet, tmp_path):
    conf = write(tmp_path / "server.conf", """
# A SPIRE-style file: quoted port, comments of all three kinds.
server {
    bind_address = "127.0.0.1"
    bind_port = "8081"   // SPIRE writes ports as strings
    socket_path = "/tmp/spire-server/private/api.sock"
    trust_domain = "example.org"
    data_dir = "/tmp/spire-server/data"
    log_level = "DEBUG"
    /* a block comment */
}
""")
    r = run([spirelet, "validate", "-config", conf])
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout


def test_validate_reports_every_error_with_file_and_line(spirelet,
                                                         tmp_path):
    conf = write(tmp_path / "bad.conf", """server {
    trust_domain = "example.org"
    bind_port = 70000
    no_such_option = true
    log_level = "LOUD"
}
""")
    r = run([spirelet, "validate", "-config", conf])
    assert r.returncode == 1
    assert conf + ":3:" in r.stderr and "bind_port" in r.stderr
    assert conf + ":4:" in r.stderr and "no_such_option" in r.stderr
    assert conf + ":5:" in r.stderr and "log_level" in r.stderr


def test_validate_syntax_error_names_line(spirelet, tmp_path):
    conf = write(tmp_path / "syntax.conf", 'server {\n  a = "x\n}\n')
    r = run([spirelet, "validate", "-config", conf])
    assert r.returncode == 1
    assert conf + ":2:" in r.stderr


def test_validate_rejects_datastore_plugin(spirelet, tmp_path):
    conf = write(tmp_path / "ds.conf", """server {
    trust_domain = "example.org"
}
plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "/tmp/ds.sqlite3"
        }
    }
}
""")
    r = run([spirelet, "server", "validate", "-config", conf])
    assert r.returncode == 1
    assert conf + ":5:" in r.stderr
    assert "built in" in r.stderr


def test_validate_expand_env(spirelet, tmp_path):
    conf = write(tmp_path / "env.conf",
                 'server {\n  trust_domain = "${TD}"\n'
                 '  bind_port = $PORT\n}\n')
    env = dict(os.environ, TD="example.org", PORT="8443")
    assert run([spirelet, "validate", "-config", conf, "-expandEnv"],
               env=env).returncode == 0
    # Without -expandEnv the text is taken as written: $PORT is no number.
    r = run([spirelet, "validate", "-config", conf], env=env)
    assert r.returncode == 1


def test_validate_missing_file(spirelet, tmp_path):
    r = run([spirelet, "validate", "-config", str(tmp_path / "nope.conf")])
    assert r.returncode == 1
    assert "nope.conf" in r.stderr


def both_conf(tmp_path, extra_server="", extra_agent=""):
    return write(tmp_path / "run.conf", """
server {
    trust_domain = "example.org"
    bind_address = "127.0.0.1"
    bind_port = 0
    data_dir = "%(d)s/server"
    socket_path = "%(d)s/server.sock"
    %(es)s
}
agent {
    trust_domain = "example.org"
    data_dir = "%(d)s/agent"
    socket_path = "%(d)s/agent.sock"
    %(ea)s
}
""" % {"d": tmp_path, "es": extra_server, "ea": extra_agent})


def test_run_starts_answers_health_and_stops_gracefully(spirelet, tmp_path,
                                                        procs):
    conf = both_conf(tmp_path)
    p = procs([spirelet, "run", "-config", conf], name="spirelet")
    wait_for_socket(str(tmp_path / "agent.sock"), proc=p)
    wait_for_socket(str(tmp_path / "server.sock"), proc=p)
    r = run([spirelet, "server", "healthcheck", "-socketPath",
             str(tmp_path / "server.sock")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Server is healthy."
    # The agent is served by the server next door: healthy once it has
    # attested and synced.
    wait_for(lambda: run([spirelet, "agent", "healthcheck", "-socketPath",
                          str(tmp_path / "agent.sock")]).returncode == 0,
             what="the agent healthy", proc=p)
    r = run([spirelet, "agent", "healthcheck", "-socketPath",
             str(tmp_path / "agent.sock")])
    assert r.stdout.strip() == "Agent is healthy."
    # Files and directories are private to the user.
    assert os.stat(tmp_path / "server").st_mode & 0o077 == 0 or \
        os.stat(tmp_path / "server").st_mode & 0o022 == 0
    assert os.stat(tmp_path / "server" / "data.mdb").st_mode & 0o777 == \
        0o600
    p.signal(signal.SIGTERM)
    assert p.wait() == 0
    out = p.output()
    assert "stopping" in out and "stopped" in out
    # Sockets are removed on the way out.
    assert not os.path.exists(tmp_path / "agent.sock")
    assert not os.path.exists(tmp_path / "server.sock")


def test_healthcheck_without_server_fails(spirelet, tmp_path):
    r = run([spirelet, "server", "healthcheck", "-socketPath",
             str(tmp_path / "none.sock")])
    assert r.returncode == 1
    assert "Server is unhealthy" in r.stderr


def test_json_logs_and_sighup_reopens_log_file(spirelet, tmp_path, procs):
    log = tmp_path / "json.log"
    conf = both_conf(tmp_path, 'log_format = "json"\n    log_file = "%s"'
                     % log)
    p = procs([spirelet, "run", "-config", conf], name="spirelet")
    wait_for_socket(str(tmp_path / "agent.sock"), proc=p)
    wait_for(lambda: log.exists() and log.stat().st_size > 0,
             what="log lines")
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        assert {"time", "level", "msg"} <= set(rec)
    assert log.stat().st_mode & 0o777 == 0o600
    rotated = tmp_path / "json.log.1"
    os.rename(log, rotated)
    p.signal(signal.SIGHUP)
    wait_for(lambda: log.exists(), what="log file reopened")
    p.signal(signal.SIGTERM)
    assert p.wait() == 0
    assert "stopped" in log.read_text()
    assert "stopped" not in rotated.read_text()


def test_log_level_flag_overrides_file(spirelet, tmp_path, procs):
    conf = both_conf(tmp_path, 'log_level = "ERROR"')
    p = procs([spirelet, "run", "-config", conf, "-logLevel", "DEBUG"],
              name="spirelet")
    wait_for_socket(str(tmp_path / "agent.sock"), proc=p)
    p.stop()
    assert "level=debug" in p.output()


def test_run_refuses_bad_config_before_starting(spirelet, tmp_path):
    conf = both_conf(tmp_path, "bind_port = -1")
    r = run([spirelet, "run", "-config", conf])
    assert r.returncode == 1
    assert ":8:" in r.stderr
    assert not os.path.exists(tmp_path / "server")


def test_run_with_plugins_at_top_level_of_both_file(spirelet, tmp_path):
    conf = write(tmp_path / "both.conf",
                 'server {}\nagent {}\nplugins {\n  KeyManager "memory" '
                 '{}\n}\n')
    r = run([spirelet, "run", "-config", conf])
    assert r.returncode == 1
    assert conf + ":3:" in r.stderr


def test_second_instance_on_same_socket_fails_cleanly(spirelet, tmp_path,
                                                      procs):
    conf = both_conf(tmp_path)
    p = procs([spirelet, "run", "-config", conf], name="first")
    wait_for_socket(str(tmp_path / "agent.sock"), proc=p)
    r = run([spirelet, "run", "-config", conf])
    assert r.returncode == 1
    # The first one is untouched (and healthy once its agent synced).
    wait_for(lambda: run([spirelet, "agent", "healthcheck", "-socketPath",
                          str(tmp_path / "agent.sock")]).returncode == 0,
             what="the first agent healthy", proc=p)
