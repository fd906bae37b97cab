"""
The command line of the real binary: -t / -T (like nginx -t / -T), --version,
--config-reference, and every class of configuration error, through configs written into a
temporary directory. Error lines are `FILE:LINE: message` on stderr, all of them, then one
summary line; exit 1. The exact messages come from config/config.c.
"""
import re

import pytest

from util.harness import REPO

SUMMARY_RE = re.compile(r"^ringedge: configuration (.+) test failed \((\d+) errors?\)$")

# a minimal valid configuration (a backend on loopback that need not run for -t)
BASE = """[listener l]
bind = 127.0.0.1:18000
[pool p]
server = 127.0.0.1:9000
[route r]
pool = p
"""  # 6 lines: appended sections start at line 7


def write(tmp_path, text, name="t.ini"):
    p = tmp_path / name
    p.write_text(text)
    return p


def check_fails(cli, tmp_path, text, name="t.ini"):
    """Runs -t on text; asserts exit 1, nothing on stdout, a summary whose count matches
    the error lines, every error line FILE:LINE: or FILE: ; returns the error lines."""
    write(tmp_path, text, name)
    r = cli("-t", "-c", name)
    assert r.rc == 1, r
    assert "configuration ok" not in r.out, r
    lines = r.lines
    m = SUMMARY_RE.match(lines[-1])
    assert m, r
    assert m.group(1) == name
    errors = [x for x in lines[:-1] if "[warn]" not in x]
    assert int(m.group(2)) == len(errors), r
    for e in errors:
        assert re.match(r"^%s(:\d+)?: \S" % re.escape(name), e), "not FILE:LINE: %r\n%r" % (e, r)
    return errors


def check_ok(cli, tmp_path, text, name="t.ini"):
    write(tmp_path, text, name)
    r = cli("-t", "-c", name)
    assert r.rc == 0, r
    assert r.out == "configuration ok\n", r
    return r


# ---- -t: a valid configuration ----

def test_minimal_config_ok(cli, tmp_path):
    r = check_ok(cli, tmp_path, BASE)
    assert "error" not in r.err.lower(), r


def test_ok_with_long_option_and_absolute_path(cli, tmp_path):
    p = write(tmp_path, BASE)
    r = cli("--test", "--config", str(p))
    assert r.rc == 0 and r.out == "configuration ok\n", r


def test_warning_does_not_fail(cli, tmp_path):
    # verify = off is a warning on stderr, not an error
    r = check_ok(cli, tmp_path, BASE + "[pool q]\nserver = 127.0.0.1:9001\ntls = on\n"
                 "verify = off\n")
    assert "verify = off" in r.err, r
    assert "t.ini:7" in r.err, r


# ---- one class of error at a time (exact messages of config/config.c) ----

@pytest.mark.parametrize("extra, want", [
    ("[global]\nfoo = 1\n",
     ['t.ini:8: unknown key "foo" in [global]']),
    ("[listener x]\nbind = 127.0.0.1:18001\nbogus_timeout = 5s\n",
     ['t.ini:9: unknown key "bogus_timeout" in [listener]']),
    ("[pool q]\nserver = 127.0.0.1:1\nweight = 3\n",
     ['t.ini:9: unknown key "weight" in [pool]']),
    ("[frontend x]\nbind = 1.2.3.4:80\n",
     ["t.ini:7: unknown section [frontend x] (expected global, tls, auth_guard, admin, "
      "listener NAME, pool NAME, route NAME or acme NAME)"]),
    ("[pool]\n",
     ["t.ini:7: [pool]: a name is required"]),
    ("[listener bad name!]\n",
     ["t.ini:7: [listener bad name!]: bad name (letters, digits, - _ . only)"]),
], ids=["key-global", "key-listener", "key-pool", "section", "section-noname",
        "section-badname"])
def test_unknown_key_or_section(cli, tmp_path, extra, want):
    errors = check_fails(cli, tmp_path, BASE + extra)
    assert errors == want


@pytest.mark.parametrize("extra, want", [
    ("[global]\nworkers = many\n",
     't.ini:8: workers: expected auto or a number, got "many"'),
    ("[global]\nworkers = 0\n",
     "t.ini:8: workers: 0 out of range (auto or 1..1024)"),
    ("[global]\nmax_connections = 0\n",
     "t.ini:8: max_connections: 0 out of range (1..10000000)"),
    ("[global]\nlog_level = loud\n",
     't.ini:8: log_level: expected error, warn, info or debug, got "loud"'),
    ("[global]\nuser = ringedge-no-such-user\n",
     't.ini:8: user: unknown user "ringedge-no-such-user"'),
    ("[listener x]\nbind = 127.0.0.1:18001\nheader_timeout = 5 seconds\n",
     't.ini:9: header_timeout: bad duration "5 seconds" (expected a number with ms, s, m or h)'),
    ("[listener x]\nbind = 127.0.0.1:18001\nidle_timeout = 0s\n",
     't.ini:9: idle_timeout: duration "0s" out of range (1ms..604800000ms)'),
    ("[listener x]\nbind = 127.0.0.1:18001\ntls = maybe\n",
     't.ini:9: tls: expected on or off, got "maybe"'),
    ("[listener x]\nbind = 127.0.0.1:99999\n",
     't.ini:8: bind: bad port in "127.0.0.1:99999"'),
    ("[listener x]\nbind = localhost:80\n",
     't.ini:8: bind: bad IPv4 address "localhost" (numeric addresses only)'),
    ("[listener x]\nbind = ::1:80\n",
     't.ini:8: bind: IPv6 address "::1:80" must be in brackets: [ADDR]:PORT'),
    ("[tls]\nprotocols = TLSv1.2 SSLv3\n",
     't.ini:8: protocols: unknown protocol "SSLv3" (expected TLSv1.2, TLSv1.3, TLSv1.1 or '
     'TLSv1)'),
    ("[pool q]\nserver = 127.0.0.1:80\nbalance = random\n",
     't.ini:9: balance: expected round_robin, least_conn, source_hash or cookie, got "random"'),
    ("[pool q]\nserver = 127.0.0.1:80\nkeepalive = -1\n",
     't.ini:9: keepalive: bad number "-1"'),
    ("[pool q]\nserver = 127.0.0.1:0\n",
     't.ini:8: server: bad port "0"'),
    ("[pool q]\nserver = 127.0.0.1:80 weight=0\n",
     't.ini:8: server: bad weight "0" (1..256)'),
    ("[pool q]\nserver = 127.0.0.1:80\nhealth_check = hc\n",
     't.ini:9: health_check: expected a path starting with /, got "hc"'),
    ("[route x]\nhost = x.example\npath = meet\npool = p\n",
     't.ini:9: path: "meet" must start with /'),
    ("[route x]\nhost = x.example\nredirect = http\n",
     't.ini:9: redirect: only "https" is supported, got "http"'),
])
def test_bad_value(cli, tmp_path, extra, want):
    text = BASE + extra
    errors = check_fails(cli, tmp_path, text)
    assert errors[0] == want, errors
    # a section left without its only bind/server/target may say so on its own line, nothing else
    assert all(e.startswith("t.ini:7: [") for e in errors[1:]), errors
    # the message starts with the key of the line it points at
    line, msg = re.match(r"^t\.ini:(\d+): (.*)$", want).groups()
    assert text.split("\n")[int(line) - 1].split(" =")[0] == msg.split(":")[0]


def test_duplicate_route(cli, tmp_path):
    # the same host and path (case-insensitively, trailing dot ignored) on one listener
    errors = check_fails(cli, tmp_path,
                         "[listener l]\nbind = 127.0.0.1:18000\n"
                         "[pool p]\nserver = 127.0.0.1:9000\n"
                         "[route a]\nhost = Meet.Contoso.com\npath = /meet\npool = p\n"
                         "[route b]\nhost = meet.contoso.com.\npath = /MEET\npool = p\n")
    assert errors == ["t.ini:9: [route b]: duplicate route: host meet.contoso.com path /MEET "
                      "already routed by [route a] at line 5 on listener l"]


def test_same_route_on_different_listeners_is_not_duplicate(cli, tmp_path):
    check_ok(cli, tmp_path,
             "[listener a]\nbind = 127.0.0.1:18000\n[listener b]\nbind = 127.0.0.1:18001\n"
             "[pool p]\nserver = 127.0.0.1:9000\n"
             "[route x]\nlisteners = a\nhost = h.example\npath = /meet\npool = p\n"
             "[route y]\nlisteners = b\nhost = h.example\npath = /meet\npool = p\n")


def test_route_unknown_pool_and_listener(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[route x]\nlisteners = l, nope\nhost = x.example\n"
                         "pool = q\n")
    assert errors == ['t.ini:8: [route x]: unknown listener "nope"',
                      't.ini:10: [route x]: unknown pool "q"']


def test_route_needs_exactly_one_target(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[route x]\nhost = a.b\n"
                         "[route y]\nhost = c.d\npool = p\nredirect = https\n")
    assert sorted(errors) == sorted([
        "t.ini:7: [route x]: needs pool = NAME or redirect = https",
        "t.ini:9: [route y]: both pool and redirect; choose one"])


def test_pool_without_servers(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[pool empty]\ntls = on\n")
    assert errors == ["t.ini:7: [pool empty] has no server"]


def test_pool_with_only_backups(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[pool q]\nserver = 127.0.0.1:80 backup\n")
    assert errors == ["t.ini:7: [pool q]: every server is a backup; at least one must not be"]


def test_tls_listener_without_certificate(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[listener s]\nbind = 127.0.0.1:18443\n"
                         "tls = on\n")
    assert errors == ["t.ini:7: [listener s] has tls = on but no certificate (set certificate "
                      "and private_key here or in [tls], or acme = NAME)"]


def test_certificate_without_key(cli, tmp_path):
    cert = write(tmp_path, "not really a cert\n", "c.pem")
    errors = check_fails(cli, tmp_path, BASE + "[listener s]\nbind = 127.0.0.1:18443\n"
                         "tls = on\ncertificate = %s\n" % cert)
    assert errors == ["t.ini:10: [listener s]: certificate without private_key"]


def test_tls_listener_with_default_certificate_ok(cli, tmp_path):
    from util.tls import make_pki
    pki = make_pki(tmp_path / "pki")     # -t loads them: they must be real
    cert, key = pki.lync, pki.lync_key
    check_ok(cli, tmp_path, BASE + "[tls]\ncertificate = %s\nprivate_key = %s\n"
             "[listener s]\nbind = 127.0.0.1:18443\ntls = on\n" % (cert, key))


def test_unreadable_files(cli, tmp_path):
    missing = tmp_path / "nonexistent"
    errors = check_fails(cli, tmp_path, BASE +
                         "[listener s]\nbind = 127.0.0.1:18443\ntls = on\n"
                         "certificate = {0}/edge.pem\nprivate_key = {0}/edge.key\n"
                         "[pool q]\nserver = 127.0.0.1:80\nca = {0}/ca.pem\n".format(missing))
    enoent = "No such file or directory"
    assert errors == [
        't.ini:10: certificate: cannot read "%s/edge.pem": %s' % (missing, enoent),
        't.ini:11: private_key: cannot read "%s/edge.key": %s' % (missing, enoent),
        't.ini:14: ca: cannot read "%s/ca.pem": %s' % (missing, enoent),
        # and no misleading follow-on "tls = on but no certificate" on the section line
    ]


def test_access_log_not_openable(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[global]\naccess_log = %s/no/dir/access.log\n"
                         % tmp_path)
    assert errors == ['t.ini:8: access_log: cannot open "%s/no/dir/access.log": No such file '
                      'or directory' % tmp_path]


def test_error_log_not_openable(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[global]\nerror_log = %s/no/dir/error.log\n"
                         % tmp_path)
    assert errors == ['t.ini:8: error_log: cannot open "%s/no/dir/error.log": No such file '
                      'or directory' % tmp_path]


def test_access_log_file_is_created_by_check(cli, tmp_path):
    log = tmp_path / "access.log"
    check_ok(cli, tmp_path, BASE + "[global]\naccess_log = %s\n" % log)
    assert log.exists()


def test_backend_host_does_not_resolve(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[pool q]\nserver = ringedge-test.invalid:80\n"
                         "server = 127.0.0.1:81\n")
    assert len(errors) == 1, errors
    assert errors[0].startswith('t.ini:8: server: host "ringedge-test.invalid" does not '
                                'resolve: '), errors


def test_backend_host_names_resolve(cli, tmp_path):
    check_ok(cli, tmp_path, BASE + "[pool q]\nserver = localhost:80\n")


@pytest.mark.parametrize("extra, want", [
    ("[global]\nworkers = 2\nworkers = 3\n", 't.ini:9: duplicate key "workers" in [global]'),
    ("[global]\n[global]\n", "t.ini:8: duplicate section [global]"),
    ("[pool p]\nserver = 127.0.0.1:1\n", "t.ini:7: duplicate section [pool p] (first at line 3)"),
    ("this line has no equals sign\n",
     "t.ini:7: syntax error (expected [section], key = value, or a ; or # comment)"),
    ("[listener x]\nbind = 127.0.0.1:18000\n",
     "t.ini:8: bind 127.0.0.1:18000: address already used by [listener l] at line 2"),
    ("[listener x]\nheader_timeout = 5s\n", "t.ini:7: [listener x] has no bind"),
], ids=["dup-key", "dup-global", "dup-pool", "syntax", "dup-bind", "no-bind"])
def test_structure_errors(cli, tmp_path, extra, want):
    assert want in check_fails(cli, tmp_path, BASE + extra)


def test_key_outside_section(cli, tmp_path):
    errors = check_fails(cli, tmp_path, "workers = 2\n" + BASE)
    assert errors == ['t.ini:1: key "workers" outside of any section']


def test_no_listener(cli, tmp_path):
    errors = check_fails(cli, tmp_path, "[pool p]\nserver = 127.0.0.1:1\n")
    assert "t.ini: no [listener NAME] section: nothing to serve" in errors


def test_line_too_long_and_next_line_still_checked(cli, tmp_path):
    errors = check_fails(cli, tmp_path, BASE + "[global]\nuser = " + "x" * 5000 +
                         "\nbogus = 1\n")
    assert errors == ["t.ini:8: line too long (max 4093 bytes)",
                      't.ini:9: unknown key "bogus" in [global]']


def test_every_error_reported_not_just_the_first(cli, tmp_path):
    # one error of each kind, spread over the file; all must come back with their lines
    text = ("[global]\n"                                     # 1
            "workers = many\n"                               # 2
            "colour = blue\n"                                # 3
            "[listener l]\n"                                 # 4
            "bind = 127.0.0.1:18000\n"                       # 5
            "idle_timeout = forever\n"                       # 6
            "[listener s]\n"                                 # 7
            "bind = 127.0.0.1:18443\n"                       # 8
            "tls = on\n"                                     # 9
            "[frontend f]\n"                                 # 10
            "[pool p]\n"                                     # 11
            "server = 127.0.0.1:9000\n"                      # 12
            "[pool empty]\n"                                 # 13
            "[pool dns]\n"                                   # 14
            "server = nowhere.invalid:80\n"                  # 15
            "[route a]\n"                                    # 16
            "host = h.example\n"                             # 17
            "pool = p\n"                                     # 18
            "[route b]\n"                                    # 19
            "host = H.example\n"                             # 20
            "pool = p\n"                                     # 21
            "[route c]\n"                                    # 22
            "listeners = l, ghost\n"                         # 23
            "host = c.example\n"                             # 24
            "pool = missing\n")                              # 25
    errors = check_fails(cli, tmp_path, text)
    want = [
        't.ini:2: workers: expected auto or a number, got "many"',
        't.ini:3: unknown key "colour" in [global]',
        't.ini:6: idle_timeout: bad duration "forever" (expected a number with ms, s, m or h)',
        "t.ini:10: unknown section [frontend f] (expected global, tls, auth_guard, admin, "
        "listener NAME, pool NAME, route NAME or acme NAME)",
        "t.ini:7: [listener s] has tls = on but no certificate (set certificate and "
        "private_key here or in [tls], or acme = NAME)",
        "t.ini:13: [pool empty] has no server",
        't.ini:23: [route c]: unknown listener "ghost"',
        't.ini:25: [route c]: unknown pool "missing"',
        "t.ini:19: [route b]: duplicate route: host h.example path / already routed by "
        "[route a] at line 16 on listener l",
    ]
    for w in want:
        assert w in errors, "missing %r in\n%s" % (w, "\n".join(errors))
    dns = [e for e in errors if e.startswith('t.ini:15: server: host "nowhere.invalid" does '
                                             'not resolve')]
    assert len(dns) == 1, errors
    # [pool dns] lost its only server to the DNS error; nothing else may be reported
    rest = set(errors) - set(want) - set(dns)
    assert rest <= {"t.ini:14: [pool dns] has no server"}, rest


# ---- exit codes and usage ----

def test_missing_config_file(cli, tmp_path):
    r = cli("-t", "-c", "absent.ini")
    assert r.rc == 1, r
    assert r.lines == ["absent.ini: cannot open configuration: No such file or directory",
                       "ringedge: configuration absent.ini test failed (1 error)"], r


def test_config_is_a_directory(cli, tmp_path):
    (tmp_path / "d.ini").mkdir()
    r = cli("-t", "-c", "d.ini")
    assert r.rc == 1, r
    assert r.lines[0].startswith("d.ini"), r


@pytest.mark.parametrize("args", [[], ["-t"], ["-c"], ["--bogus"], ["-t", "-c", "a", "extra"]])
def test_usage_errors_exit_1(cli, args):
    r = cli(*args)
    assert r.rc == 1, r
    assert "usage: ringedge" in r.err, r
    assert r.out == "", r


def test_help(cli):
    r = cli("--help")
    assert r.rc == 0 and "usage: ringedge" in r.out and "-t, --test" in r.out, r


def test_serving_a_bad_config_exits_1(cli, tmp_path):
    # without -t the same errors stop the start
    write(tmp_path, BASE + "[global]\nfoo = 1\n")
    r = cli("-c", "t.ini", timeout=30)
    assert r.rc == 1, r
    assert 't.ini:8: unknown key "foo" in [global]' in r.lines, r


# ---- -T ----

def test_dump_shows_defaults(cli, tmp_path):
    write(tmp_path, BASE)
    r = cli("-T", "-c", "t.ini")
    assert r.rc == 0, r
    out = r.out.split("\n")
    assert out[-2] == "configuration ok" and out[-1] == "", r
    for want in ["[global]", "workers = auto", "max_connections = 100000",
                 "access_log = stderr", "log_level = info", "drain_timeout = 30s",
                 "[tls]", "protocols = TLSv1.2 TLSv1.3", "session_tickets = on",
                 "[listener l]", "bind = 127.0.0.1:18000", "tls = off",
                 "header_timeout = 30s", "idle_timeout = 1800s",
                 "[pool p]", "server = 127.0.0.1:9000 weight=1 ; resolves to 127.0.0.1",
                 "verify = on", "balance = round_robin", "connect_timeout = 5s",
                 "response_timeout = 1800s", "keepalive = 32", "forwarded_for = off",
                 "health_interval = 5s", "max_fails = 3", "fail_timeout = 30s",
                 "[route r]", "listeners = l", "host = *", "path = /", "pool = p"]:
        assert want in out, "%r not in -T output:\n%s" % (want, r.out)


def test_dump_shows_set_values(cli, tmp_path):
    write(tmp_path, BASE + "[global]\nworkers = 2\ndrain_timeout = 250ms\n"
          "[listener x]\nbind = 127.0.0.1:18001\nheader_timeout = 2s\nidle_timeout = 1h\n")
    r = cli("-T", "-c", "t.ini")
    assert r.rc == 0, r
    out = r.out.split("\n")
    for want in ["workers = 2", "drain_timeout = 250ms", "[listener x]", "header_timeout = 2s",
                 "idle_timeout = 3600s"]:
        assert want in out, "%r not in -T output:\n%s" % (want, r.out)


def test_dump_round_trips(cli, tmp_path):
    # the effective configuration is itself a valid configuration with the same dump
    write(tmp_path, BASE + "[pool q]\nserver = localhost:81 weight=3\nserver = 127.0.0.1:82 "
          "backup\nbalance = least_conn\nhealth_check = /hc\n"
          "[route x]\nhost = *.Example.COM\npath = /Meet\npool = q\n"
          "[route y]\nhost = other.example\nredirect = https\n")
    r1 = cli("-T", "-c", "t.ini")
    assert r1.rc == 0, r1
    write(tmp_path, r1.out.replace("configuration ok\n", ""), "dump.ini")
    r2 = cli("-T", "-c", "dump.ini")
    assert r2.rc == 0, r2
    strip = lambda s: s.split("\n", 1)[1]  # noqa: E731  (first line names the file)
    assert strip(r2.out) == strip(r1.out)


def test_dump_with_errors_prints_no_config(cli, tmp_path):
    write(tmp_path, BASE + "[global]\nfoo = 1\n")
    r = cli("-T", "-c", "t.ini")
    assert r.rc == 1 and r.out == "", r
    assert 't.ini:8: unknown key "foo" in [global]' in r.lines, r


# ---- --version, --config-reference ----

def test_version(cli):
    r = cli("--version")
    assert r.rc == 0, r
    meson = (REPO / "meson.build").read_text()
    version = re.search(r"version\s*:\s*'([^']+)'", meson).group(1)
    lines = r.out.split("\n")
    assert lines[0] == "ringedge %s" % version, r
    wl = [x for x in lines if re.match(r"^wolfSSL \d+\.\d+\.\d+", x)]
    assert len(wl) == 1, r
    feats = [x for x in lines if x.startswith("wolfSSL features: ")]
    assert len(feats) == 1, r
    names = feats[0].split(": ", 1)[1].split()
    for f in ["tls13", "tls12", "sni", "aes-gcm"]:
        assert f in names, r
    if "system libwolfssl" in wl[0]:
        # the loud warning, in capitals, naming the cause
        assert re.search(r"^WARNING: AES-NI is OFF", r.out, re.M), r
    else:
        assert "AES-NI is OFF" not in r.out + r.err, r
    assert cli("-v").out == r.out


def test_config_reference_is_in_docs(cli):
    r = cli("--config-reference")
    assert r.rc == 0 and r.err == "", r
    assert r.out.startswith("### [global]\n"), r
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert r.out in doc, "docs/configuration.md is stale: regenerate with --config-reference"


def test_config_reference_lists_every_key_the_loader_accepts(cli, tmp_path):
    # every key row of the reference is a key the loader knows in that section, and an
    # unknown one is rejected: the table and the loader are the same thing
    ref = cli("--config-reference").out
    sections = {}
    cur = None
    for line in ref.split("\n"):
        m = re.match(r"^### \[(\w+)", line)
        if m:
            cur = m.group(1)
            sections[cur] = []
        m = re.match(r"^\| `(\w+)`", line)
        if m:
            sections[cur].append(m.group(1))
    assert set(sections) == {"global", "tls", "listener", "pool", "route", "auth_guard",
                             "acme", "admin"}, sections
    assert sections["admin"] == ["listen", "allow", "max_connections", "drain_delay"]
    for key in ["directory", "accept_terms", "names", "state_dir", "challenge"]:
        assert key in sections["acme"]
    for key in ["workers", "access_log", "drain_timeout"]:
        assert key in sections["global"]
    for key in ["bind", "tls", "header_timeout", "idle_timeout"]:
        assert key in sections["listener"]
    for key in ["server", "response_timeout", "keepalive", "forwarded_for"]:
        assert key in sections["pool"]
    for key in ["listeners", "host", "path", "pool", "redirect", "auth_guard", "auth_schemes",
                "hide_response_header"]:
        assert key in sections["route"]
    for key in ["user_failures", "addr_failures", "lock_time", "max_tracked_keys",
                "min_answer_time", "body_limit", "default_domain"]:
        assert key in sections["auth_guard"]
    # a key of another section is unknown here: the message names the section
    errors = check_fails(cli, tmp_path, BASE + "[global]\nbind = 127.0.0.1:1\n")
    assert errors == ['t.ini:8: unknown key "bind" in [global]']


# ---- the example configurations ----

def test_demo_config_passes(cli):
    r = cli("-t", "-c", REPO / "config" / "demo.ini")
    assert r.rc == 0 and r.out == "configuration ok\n", r


def test_lync_config_fails_only_for_missing_hosts_and_files(cli, tmp_path):
    # lync-edge.ini names the certificate files and internal hosts of a real deployment:
    # here every error must be one of those, and each of those must be reported
    path = REPO / "config" / "lync-edge.ini"
    text = path.read_text().split("\n")
    r = cli("-t", "-c", path)
    assert r.rc == 1, r
    name = str(path)
    errors = r.lines[:-1]
    assert SUMMARY_RE.match(r.lines[-1]).group(2) == str(len(errors)), r
    root, derived = [], []
    for e in errors:
        m = re.match(r"^%s:(\d+): (.*)$" % re.escape(name), e)
        assert m, e
        line, msg = int(m.group(1)), m.group(2)
        src = text[line - 1]
        if re.match(r'^(certificate|private_key|ca): cannot read "/etc/ringedge/[^"]+": '
                    r'No such file or directory$', msg):
            assert src.split("=")[0].strip() == msg.split(":")[0], (e, src)
            root.append(e)
        elif re.match(r'^server: host "[a-z0-9]+\.contoso\.local" does not resolve: ', msg):
            assert src.startswith("server = ") and msg.split('"')[1] in src, (e, src)
            root.append(e)
        elif re.match(r"^\[listener [\w-]+\] has tls = on but no certificate", msg) or \
                re.match(r"^\[pool [\w-]+\] has no server$", msg):
            # consequences of the above on the section line
            assert src.startswith("["), (e, src)
            derived.append(e)
        else:
            pytest.fail("unexpected error in lync-edge.ini: %s" % e)
    # every file and server line of the example is among the root errors
    want = sum(1 for x in text if re.match(r"^(certificate|private_key|ca|server) = ", x))
    assert len(root) == want, "\n".join(errors)


def test_lync_topology_with_local_stand_ins_passes(cli, tmp_path):
    # the same file with the files present and the hosts pointing at loopback is valid
    # (-t loads the certificate, its key and the CA: they must be real)
    from util.tls import make_pki
    pki = make_pki(tmp_path / "pki")
    cert, key, ca = pki.lync, pki.lync_key, pki.ca
    text = (REPO / "config" / "lync-edge.ini").read_text()
    text = text.replace("/etc/ringedge/edge.pem", str(cert))
    text = text.replace("/etc/ringedge/edge.key", str(key))
    text = text.replace("/etc/ringedge/contoso-root.pem", str(ca))
    text = re.sub(r"\b(fe0\d|owas0\d)\.contoso\.local", "localhost", text)
    write(tmp_path, text, "lync.ini")
    r = cli("-t", "-c", "lync.ini")
    assert r.rc == 0 and r.out == "configuration ok\n", r


# ---- -t loads the TLS material too (like nginx -t), not only the INI ----

def test_check_loads_certificates(cli, tmp_path):
    from util.tls import make_pki
    pki = make_pki(tmp_path / "pki")
    tls = ("[listener s]\nbind = 127.0.0.1:18443\ntls = on\n"
           "certificate = %s\nprivate_key = %s\n" % (pki.lync, pki.lync_key))
    check_ok(cli, tmp_path, BASE + tls)
    # readable files that are not what they claim: only loading them can tell
    mismatched = tls.replace(pki.lync_key, pki.other_key)
    errors = check_fails(cli, tmp_path, BASE + mismatched)
    assert any(e.startswith("t.ini:10: ") and "does not match" in e for e in errors), errors
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    errors = check_fails(cli, tmp_path, BASE + tls.replace(pki.lync, str(garbage)))
    assert any(e.startswith("t.ini:10: ") and "garbage.pem" in e for e in errors), errors
    pool = ("[pool q]\nserver = 127.0.0.1:4443\ntls = on\nca = %s\n" % garbage)
    errors = check_fails(cli, tmp_path, BASE + pool)
    assert any("garbage.pem" in e for e in errors), errors


ACME = ("[listener web]\nbind = 127.0.0.1:18443\ntls = on\nacme = lync\n"
        "certificate = %(crt)s\nprivate_key = %(key)s\n"
        "[pool p]\nserver = 127.0.0.1:9000\n"
        "[route meet]\nhost = meet.example.test\npool = p\n"
        "[acme lync]\ndirectory = https://127.0.0.1:9/dir\naccept_terms = yes\n"
        "state_dir = %(state)s\naccount_key = %(acct)s\n")


def acme_files(tmp_path):
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem"), "-days", "30", "-subj", "/CN=x"],
                   check=True, capture_output=True)
    return dict(crt=tmp_path / "c.pem", key=tmp_path / "k.pem", state=tmp_path / "state",
                acct=tmp_path / "acct.key")


def test_acme_section_checked_offline(cli, tmp_path):
    """-t checks [acme NAME] without contacting the server (directory points at a closed
    port): a missing account key is fine (created at the first issuance), a file that is
    not a key is FILE:LINE: why, and so is a state_dir that cannot be created."""
    f = acme_files(tmp_path)
    (tmp_path / "t.ini").write_text(ACME % f)
    r = cli("-t", "-c", "t.ini")
    assert r.rc == 0, r.err
    assert "configuration ok" in r.out
    assert not (tmp_path / "acct.key").exists()     # -t creates nothing
    (tmp_path / "acct.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                       "-----END PRIVATE KEY-----\n")
    r = cli("-t", "-c", "t.ini")
    assert r.rc == 1
    assert ("t.ini:12: [acme lync]: account_key %s: not a PEM EC P-256 or RSA private key"
            % f["acct"]) in r.err
    (tmp_path / "acct.key").unlink()
    (tmp_path / "blocker").write_text("x")
    f["state"] = tmp_path / "blocker" / "acme"
    (tmp_path / "t.ini").write_text(ACME % f)
    r = cli("-t", "-c", "t.ini")
    assert r.rc == 1
    assert "t.ini:12: [acme lync]: state_dir %s: Not a directory" % f["state"] in r.err
