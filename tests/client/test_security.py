"""Credentials and security (issue 5): cdf.create_user and its siblings, token lifecycle, TLS,
the SSRF guard on server URLs, secrets that never leak, and PostgreSQL privileges on foreign
tables.

Every test asserts what a user would notice (SQLSTATE, message, what CDF -- the emulator -- holds)
and would fail if the protection it covers were removed. The tests use their own database
(cdf_security), their own roles (prefix cdfsec_, dropped at the end even on failure) and their own
emulator processes (loopback ports chosen by the emulator), so they do not disturb
test_copy_binary.py or the shared emulator of scripts/test.sh.

Environment: PGHOST/PGPORT/PGUSER/PGPASSWORD of the test cluster (superuser), CDF_FDW_ROOT
(for target/release/cdf-emulator), CDF_FDW_PG_LOG (the cluster's server log; the log checks are
skipped without it).
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import warnings

import psycopg
from http.server import BaseHTTPRequestHandler
import pytest
from psycopg import errors, sql

from security_helpers import (
    ALL_CAPABILITIES, DBNAME, EMULATOR_BIN, ROLE_PREFIX, ROOT, EmulatorProcess, Redirector, ServerLog, TokenProxy,
    as_role, cap, error_texts, login, superuser,
)

ROLE_COMMENT = "cdf_fdw: login created by cdf.create_user for server "
# What the emulator issues as access tokens (crates/cdf-emulator/src/auth.rs, new_token):
# "emu." and 48 hex digits. test_emulator_token_format checks this against a token we request.
TOKEN_PATTERN = re.compile(r"emu\.[0-9a-f]{48}")

pytestmark = pytest.mark.skipif(not os.path.exists(EMULATOR_BIN), reason=f"{EMULATOR_BIN} is not built")


def uid():
    return uuid.uuid4().hex[:10]


def ident(name):
    return sql.Identifier(name)


# --- module set-up: database, emulator, main server ---------------------------------------------

def drop_test_roles(c):
    """Drops every role these tests made: the cdfsec_ ones, and logins cdf.create_user made for our
    servers (all named sec_...). Runs after cdf_security is dropped, so nothing depends on them."""
    rows = c.execute(
        r"""SELECT rolname FROM pg_roles
             WHERE rolname LIKE 'cdfsec\_%%'
                OR shobj_description(oid, 'pg_authid') LIKE %s""",
        (ROLE_COMMENT.replace("_", r"\_") + r"sec\_%",),
    ).fetchall()
    for (name,) in rows:
        try:
            c.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident(name)))
        except errors.DependentObjectsStillExist as e:  # owns objects in another database
            warnings.warn(f"could not drop test role {name}: {e}")


@pytest.fixture(scope="module")
def emu():
    """Our own plain-http emulator (default config: demo-client/demo-secret with every capability)."""
    e = EmulatorProcess()
    yield e
    e.close()


@pytest.fixture
def cdf(emu):
    """The module's emulator with no data and no faults (clients stay)."""
    emu.reset()
    return emu


def server_options(base_url, token_url, **extra):
    opts = {"base_url": base_url, "project": "demo", "token_url": token_url, **extra}
    return sql.SQL(", ").join(sql.SQL("{} {}").format(ident(k), sql.Literal(v)) for k, v in opts.items())


def create_server(c, name, base_url, token_url, schema=None, tables=("assets",),
                  client=("demo-client", "demo-secret"), **extra):
    """CREATE SERVER with a superuser mapping for `client` and the given tables in `schema`."""
    c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
        ident(name), server_options(base_url, token_url, **extra)))
    if client:
        c.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (client_id {}, client_secret {})")
                  .format(ident(name), sql.Literal(client[0]), sql.Literal(client[1])))
    if schema:
        c.execute(sql.SQL("CREATE SCHEMA {}").format(ident(schema)))
        limit = sql.SQL("LIMIT TO ({})").format(sql.SQL(", ").join(map(ident, tables))) if tables else sql.SQL("")
        c.execute(sql.SQL("IMPORT FOREIGN SCHEMA cdf {} FROM SERVER {} INTO {}").format(limit, ident(name), ident(schema)))


@pytest.fixture(scope="module")
def db(emu):
    """Database cdf_security with the extension, server sec_main (every table, in schema
    sec_tables) and a superuser mapping with the emulator's demo client. Dropped at the end, with
    every cdfsec_ role."""
    with superuser("postgres") as c:
        c.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        drop_test_roles(c)
        c.execute(f"CREATE DATABASE {DBNAME}")
    try:
        with superuser() as c:
            c.execute("CREATE EXTENSION cdf_fdw")
            create_server(c, "sec_main", emu.url, emu.token_url, schema="sec_tables", tables=())
        yield
    finally:
        with superuser("postgres") as c:
            c.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
            drop_test_roles(c)


class Roles:
    """Creates cdfsec_ roles for one test and drops them (and whatever they own or were granted in
    cdf_security) afterwards, even when the test failed."""

    def __init__(self):
        self.names = []

    def track(self, name):
        self.names.append(name)
        return name

    def make(self, *attributes, password=None, name=None):
        name = self.track(name or f"{ROLE_PREFIX}{uid()}")
        attrs = sql.SQL(" ").join(sql.SQL(a) for a in ("LOGIN",) + attributes)
        pw = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
        with superuser() as c:
            c.execute(sql.SQL("CREATE ROLE {} {}{}").format(ident(name), attrs, pw))
        return name

    def cleanup(self):
        with superuser() as c:
            for name in reversed(self.names):
                if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    c.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(ident(name)))
                    c.execute(sql.SQL("DROP ROLE {}").format(ident(name)))


@pytest.fixture
def roles(db):
    r = Roles()
    yield r
    r.cleanup()


def grant(c, privileges, table, role):
    schema = table.split(".")[0]
    c.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(schema), ident(role)))
    c.execute(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
        sql.SQL(privileges), sql.Identifier(*table.split(".")), ident(role)))


def map_user(c, role, server, client_id, client_secret):
    c.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER {} OPTIONS (client_id {}, client_secret {})").format(
        ident(role), ident(server), sql.Literal(client_id), sql.Literal(client_secret)))


def insert_asset(c, xid, table="sec_tables.assets"):
    c.execute(sql.SQL("INSERT INTO {} (external_id, name) VALUES (%s, %s)").format(sql.Identifier(*table.split("."))),
              (xid, f"asset {xid}"))


def role_exists(name):
    with superuser() as c:
        return c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def mapping_options(role, server="sec_main"):
    """The options of a role's user mapping, as a superuser sees them (None: no mapping)."""
    with superuser() as c:
        row = c.execute("SELECT umoptions FROM pg_user_mappings WHERE usename = %s AND srvname = %s",
                        (role, server)).fetchone()
    return None if row is None else dict(o.split("=", 1) for o in row[0])


def create_user(c, client_id, client_secret, username=None, server="sec_main"):
    row = c.execute(
        "SELECT username, password, granted, missing_capabilities FROM cdf.create_user(%s, %s, %s, %s)",
        (server, client_id, client_secret, username)).fetchone()
    return row


@pytest.fixture
def limited(cdf):
    """An emulator client with assetsAcl READ+WRITE and timeSeriesAcl READ only."""
    client_id, secret = f"sec-limited-{uid()}", f"limited-secret-{uid()}"
    cdf.put_client(client_id, secret, [cap("assetsAcl", "READ", "WRITE"), cap("timeSeriesAcl", "READ")])
    return client_id, secret


# === 1. cdf.create_user and its siblings =======================================================

def test_create_user_hands_out_a_login_with_exactly_the_identitys_capabilities(cdf, roles, limited):
    client_id, secret = limited
    user = roles.track(f"{ROLE_PREFIX}etl_{uid()}")
    with superuser() as c:
        username, password, granted, missing = create_user(c, client_id, secret, user)

    assert username == user
    # A generated password an ETL tool can use, strong enough not to be guessed.
    assert len(password) >= 32 and re.search("[a-z]", password) and re.search("[A-Z]", password), password
    # Grants follow CDF: all of assets (READ+WRITE), read-only time series and datapoints, nothing
    # else. Exact equality: any extra grant would let the login try more than CDF allows.
    assert set(granted) == {
        "SELECT, INSERT, UPDATE, DELETE ON sec_tables.assets",
        "SELECT ON sec_tables.time_series",
        "SELECT ON sec_tables.double_datapoints",
        "SELECT ON sec_tables.string_datapoints",
    }, granted
    # The report tells the DBA what to ask the CDF admin for, per capability and table.
    tsw = [m for m in missing if m.startswith("timeSeriesAcl:WRITE (")]
    assert tsw and "double_datapoints" in tsw[0], missing
    assert any(m.startswith("eventsAcl:READ (") for m in missing), missing
    assert not any(m.startswith("assetsAcl") for m in missing), missing
    # The mapping holds the credentials given, not anything else.
    assert mapping_options(user) == {"client_id": client_id, "client_secret": secret}

    # The login works over TCP with the password (SCRAM), as the ETL tool will use it.
    xid = f"etl-{uid()}"
    with login(user, password) as u:
        insert_asset(u, xid)
        assert xid in cdf.external_ids(), "the login's INSERT did not reach CDF"
        # Read back through the FDW: SELECT was granted too.
        assert u.execute("SELECT name FROM sec_tables.assets WHERE external_id = %s", (xid,)).fetchone() == (f"asset {xid}",)

        # Time series are read-only for this identity, so PostgreSQL refuses before CDF is asked.
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for foreign table double_datapoints"):
            u.execute("INSERT INTO sec_tables.double_datapoints (external_id, timestamp, value) VALUES ('ts', now(), 1)")
        assert cdf.endpoint("POST /timeseries/data")["requests"] == 0, "a refused INSERT must not reach CDF"
        # No eventsAcl at all: no SELECT either.
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for foreign table events"):
            u.execute("SELECT * FROM sec_tables.events")


def test_create_user_generates_a_username_when_none_is_given(cdf, roles, limited):
    with superuser() as c:
        username, password, granted, _ = create_user(c, *limited)
        roles.track(username)
        row = c.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, shobj_description(oid, 'pg_authid') "
                        "FROM pg_roles WHERE rolname = %s", (username,)).fetchone()
    assert re.fullmatch(r"cdf_[a-z0-9]{10}", username), username
    # A plain login: never superuser or CREATEROLE; marked as made by create_user.
    assert row == (True, False, False, ROLE_COMMENT + "sec_main")
    with login(username, password) as u:
        assert u.execute("SELECT current_user").fetchone() == (username,)


def test_create_user_with_a_wrong_secret_fails_and_creates_nothing(cdf, roles, limited):
    client_id, _ = limited
    user = roles.track(f"{ROLE_PREFIX}wrong_{uid()}")
    with superuser() as c:
        with pytest.raises(psycopg.Error) as e:
            create_user(c, client_id, "not-the-secret", user)
    # 28000 invalid_authorization_specification, with a message saying what is wrong.
    assert e.value.sqlstate == "28000", (e.value.sqlstate, str(e.value))
    assert "credentials do not work" in e.value.diag.message_primary
    assert client_id in e.value.diag.message_primary
    assert not role_exists(user), "a failed create_user must not leave a role behind"
    assert mapping_options(user) is None


def test_create_user_for_an_identity_outside_the_project_is_refused(cdf, roles):
    client_id, secret = f"sec-other-{uid()}", f"other-secret-{uid()}"
    cdf.put_client(client_id, secret, ALL_CAPABILITIES, projects=["other-project"])
    user = roles.track(f"{ROLE_PREFIX}outside_{uid()}")
    with superuser() as c, pytest.raises(errors.InsufficientPrivilege) as e:
        create_user(c, client_id, secret, user)
    assert 'no access to project "demo"' in e.value.diag.message_primary
    assert not role_exists(user)


def test_create_user_refuses_an_existing_role(cdf, roles, limited):
    existing = roles.make()
    with superuser() as c, pytest.raises(errors.DuplicateObject) as e:  # 42710
        create_user(c, *limited, existing)
    assert f'role "{existing}" already exists' in e.value.diag.message_primary
    # The existing role is left exactly as it was: no mapping, not marked as ours.
    assert mapping_options(existing) is None
    with superuser() as c:
        assert c.execute("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
                         (existing,)).fetchone() == (None,)


def test_create_user_quotes_usernames_and_secrets(cdf, roles):
    """Names and secrets go into CREATE ROLE / CREATE USER MAPPING statements: quoting must hold
    against injection (a secret or name is data, never SQL)."""
    client_id, secret = f"sec-quote-{uid()}", f"it's a \\ secret'); DROP ROLE postgres; --{uid()}"
    cdf.put_client(client_id, secret, [cap("assetsAcl", "READ", "WRITE")])
    user = roles.track(f'{ROLE_PREFIX}q"uote\'s; DROP ROLE postgres; --{uid()}')
    with superuser() as c:
        username, password, _, _ = create_user(c, client_id, secret, user)
    assert username == user
    assert role_exists(user) and role_exists("postgres")
    assert mapping_options(user) == {"client_id": client_id, "client_secret": secret}
    xid = f"quoted-{uid()}"
    with login(user, password) as u:
        insert_asset(u, xid)
    assert xid in cdf.external_ids()


def test_create_user_needs_createrole(cdf, roles, limited):
    plain = roles.make()
    with superuser() as c:
        # Let the role reach the functions, so that the refusal is the extension's own check.
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA cdf TO {}").format(ident(plain)))
    user = roles.track(f"{ROLE_PREFIX}by_plain_{uid()}")
    with as_role(plain) as c, pytest.raises(errors.InsufficientPrivilege) as e:
        create_user(c, *limited, user)
    assert "CREATEROLE" in e.value.diag.message_primary, e.value.diag.message_primary
    assert not role_exists(user)


def test_create_user_needs_ownership_of_the_server(cdf, roles, limited):
    """CREATEROLE alone is not enough: creating mappings for others is the server owner's right."""
    admin = roles.make("CREATEROLE")
    with superuser() as c:
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA cdf TO {}").format(ident(admin)))
        c.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER sec_main TO {}").format(ident(admin)))
    user = roles.track(f"{ROLE_PREFIX}by_cr_{uid()}")
    with as_role(admin) as c, pytest.raises(errors.InsufficientPrivilege) as e:
        create_user(c, *limited, user)
    assert 'needs ownership of the server' in e.value.diag.message_primary, e.value.diag.message_primary
    assert not role_exists(user)


@pytest.fixture
def owner_setup(cdf, roles, limited):
    """A CREATEROLE role that owns a server (created under cdf_fdw.allowed_urls set by a
    superuser) and its imported tables, and a login it made with create_user."""
    admin = roles.make("CREATEROLE")
    server, schema = f"sec_owned_{uid()}", f"sec_owned_{uid()}"
    with superuser() as c:
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA cdf TO {}").format(ident(admin)))
        c.execute(sql.SQL("GRANT USAGE ON FOREIGN DATA WRAPPER cdf_fdw TO {}").format(ident(admin)))
        c.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(DBNAME), ident(admin)))
        c.execute("SELECT set_config('cdf_fdw.allowed_urls', %s, false)", (cdf.url + "/",))
        c.execute(sql.SQL("SET ROLE {}").format(ident(admin)))
        create_server(c, server, cdf.url, cdf.token_url, schema=schema, client=None)
        user = roles.track(f"{ROLE_PREFIX}owned_{uid()}")
        username, password, granted, _ = create_user(c, *limited, user, server=server)
    return {"admin": admin, "server": server, "schema": schema, "user": user, "password": password,
            "granted": granted, "client": limited}


def test_server_owner_with_createrole_can_create_logins_and_reset_passwords(cdf, owner_setup):
    s = owner_setup
    assert f"SELECT, INSERT, UPDATE, DELETE ON {s['schema']}.assets" in s["granted"]
    xid = f"owned-{uid()}"
    with login(s["user"], s["password"]) as u:
        insert_asset(u, xid, f"{s['schema']}.assets")
    assert xid in cdf.external_ids()
    with as_role(s["admin"]) as c:
        new_password = c.execute("SELECT cdf.reset_password(%s)", (s["user"],)).fetchone()[0]
    with login(s["user"], new_password) as u:
        assert u.execute("SELECT current_user").fetchone() == (s["user"],)


def test_create_user_says_why_when_the_owner_cannot_grant_on_the_tables(cdf, roles, limited):
    # A superuser imported the tables, then handed the server to a CREATEROLE admin: the admin
    # owns the server but cannot grant on the tables. The call must fail before creating
    # anything, and say what is wrong (not a bare "permission denied for schema").
    admin = roles.make("CREATEROLE")
    server, schema = f"sec_handed_{uid()}", f"sec_handed_{uid()}"
    user = roles.track(f"{ROLE_PREFIX}handed_{uid()}")
    with superuser() as c:
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA cdf TO {}").format(ident(admin)))
        create_server(c, server, cdf.url, cdf.token_url, schema=schema)
        c.execute(sql.SQL("ALTER SERVER {} OWNER TO {}").format(ident(server), ident(admin)))
    with as_role(admin) as c, pytest.raises(psycopg.Error) as e:
        create_user(c, *limited, user, server=server)
    assert e.value.sqlstate == "42501", (e.value.sqlstate, str(e.value))
    assert "belong to another role" in str(e.value) and f"{schema}.assets" in str(e.value), str(e.value)
    with superuser() as c:
        assert c.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (user,)).fetchone() == (0,)


def test_server_owner_with_createrole_can_rotate_secrets(cdf, owner_setup):
    s = owner_setup
    with as_role(s["admin"]) as c:
        c.execute("SELECT cdf.rotate_secret(%s, %s)", (s["user"], s["client"][1]))


def test_server_owner_with_createrole_can_drop_logins(cdf, owner_setup):
    s = owner_setup
    with as_role(s["admin"]) as c:
        c.execute("SELECT cdf.drop_user(%s)", (s["user"],))
    assert not role_exists(s["user"])


def test_drop_user_removes_the_login_and_its_mapping(cdf, roles, limited):
    user = roles.track(f"{ROLE_PREFIX}drop_{uid()}")
    with superuser() as c:
        _, password, _, _ = create_user(c, *limited, user)
        assert mapping_options(user) is not None
        c.execute("SELECT cdf.drop_user(%s)", (user,))
    assert not role_exists(user)
    assert mapping_options(user) is None
    with pytest.raises(psycopg.OperationalError):
        login(user, password).close()


def test_drop_user_refuses_roles_it_did_not_make(cdf, roles):
    other = roles.make()
    with superuser() as c, pytest.raises(errors.InsufficientPrivilege) as e:
        c.execute("SELECT cdf.drop_user(%s)", (other,))
    assert "was not created by cdf.create_user" in e.value.diag.message_primary
    assert role_exists(other), "drop_user must never drop a role create_user did not make"
    with superuser() as c, pytest.raises(errors.InsufficientPrivilege):
        c.execute("SELECT cdf.rotate_secret(%s, 'x')", (other,))
    with superuser() as c, pytest.raises(errors.InsufficientPrivilege):
        c.execute("SELECT cdf.reset_password(%s)", (other,))
    # Not even a superuser role: drop_user is no back door to DROP ROLE.
    with superuser() as c, pytest.raises(errors.InsufficientPrivilege):
        c.execute("SELECT cdf.drop_user(current_user)")


def test_rotate_secret_checks_the_new_secret_with_cdf_first(cdf, roles, limited):
    client_id, old_secret = limited
    user = roles.track(f"{ROLE_PREFIX}rot_{uid()}")
    with superuser() as c:
        _, password, _, _ = create_user(c, client_id, old_secret, user)
        # A wrong secret is refused (28000) and the mapping keeps the working one.
        with pytest.raises(psycopg.Error) as e:
            c.execute("SELECT cdf.rotate_secret(%s, %s)", (user, "a-wrong-secret"))
        assert e.value.sqlstate == "28000", (e.value.sqlstate, str(e.value))
    assert mapping_options(user)["client_secret"] == old_secret

    # The CDF admin rotates the app's secret (Entra ID): the old one stops working.
    new_secret = f"rotated-secret-{uid()}"
    cdf.put_client(client_id, new_secret, [cap("assetsAcl", "READ", "WRITE"), cap("timeSeriesAcl", "READ")])
    with login(user, password) as u, pytest.raises(psycopg.Error) as e:
        insert_asset(u, f"before-rotation-{uid()}")
    assert e.value.sqlstate == "28000" and "refused client" in str(e.value), str(e.value)

    with superuser() as c:
        c.execute("SELECT cdf.rotate_secret(%s, %s)", (user, new_secret))
    assert mapping_options(user) == {"client_id": client_id, "client_secret": new_secret}
    xid = f"after-rotation-{uid()}"
    with login(user, password) as u:
        insert_asset(u, xid)
    assert xid in cdf.external_ids()


def test_reset_password_replaces_the_password(cdf, roles, limited):
    user = roles.track(f"{ROLE_PREFIX}pw_{uid()}")
    with superuser() as c:
        _, old_password, _, _ = create_user(c, *limited, user)
        login(user, old_password).close()
        new_password = c.execute("SELECT cdf.reset_password(%s)", (user,)).fetchone()[0]
    assert len(new_password) >= 32 and new_password != old_password
    with login(user, new_password) as u:
        assert u.execute("SELECT current_user").fetchone() == (user,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        login(user, old_password).close()


# === 2. Token lifecycle =========================================================================

@pytest.fixture
def short_ttl():
    """An emulator whose tokens live 2 s, behind a proxy that counts token requests (the
    emulator's /_admin/stats does not count its token endpoint)."""
    e = EmulatorProcess("--token-ttl", "2")
    proxy = TokenProxy(e.token_url)
    yield e, proxy
    proxy.close()
    e.close()


def all_statuses(emulator):
    out = {}
    for ep in emulator.stats()["endpoints"].values():
        for status, n in ep["statuses"].items():
            out[status] = out.get(status, 0) + n
    return out


def test_tokens_are_refreshed_ahead_of_expiry(db, short_ttl):
    e, proxy = short_ttl
    server, schema = f"sec_ttl_{uid()}", f"sec_ttl_{uid()}"
    with superuser() as c:
        create_server(c, server, e.url, proxy.url, schema=schema)
        insert_asset(c, "ttl-1", f"{schema}.assets")
        insert_asset(c, "ttl-1b", f"{schema}.assets")
        # The token is cached for the backend: one token request for two statements.
        assert proxy.requests == 1
        time.sleep(3)  # past the token's 2 s lifetime
        insert_asset(c, "ttl-2", f"{schema}.assets")
    assert {"ttl-1", "ttl-1b", "ttl-2"} <= e.external_ids()
    # A new token was fetched for the second statement ...
    assert proxy.requests == 2, f"token requests: {proxy.requests}"
    # ... before the old one expired: CDF never had to answer 401.
    assert "401" not in all_statuses(e), all_statuses(e)


def test_a_401_refreshes_the_token_once_and_retries(db):
    """The emulator restarts on the same port, so it no longer knows the token cached in the
    backend: the next request gets a 401, and the FDW must fetch a new token and retry."""
    e = EmulatorProcess()
    try:
        server, schema = f"sec_401_{uid()}", f"sec_401_{uid()}"
        with superuser() as c:
            create_server(c, server, e.url, e.token_url, schema=schema)
            insert_asset(c, "before-restart", f"{schema}.assets")
            e.restart()
            insert_asset(c, "after-restart", f"{schema}.assets")
        assert "after-restart" in e.external_ids()
        statuses = e.endpoint("POST /assets")["statuses"]
        assert statuses.get("401") == 1, f"the retried request should follow exactly one 401: {statuses}"
    finally:
        e.close()


def test_a_persistent_401_is_retried_only_once(cdf):
    cdf.faults([{"endpoint": "POST /assets", "fault": {"status": 401, "message": "Unauthorized"}}])
    with superuser() as c, pytest.raises(psycopg.Error) as e:
        c.execute("SET statement_timeout = '20s'")  # an endless refresh loop would end here (57014)
        insert_asset(c, f"never-{uid()}")
    assert e.value.sqlstate == "28000", (e.value.sqlstate, str(e.value))
    assert cdf.endpoint("POST /assets")["requests"] == 2, "one refresh and retry, then give up"


def test_a_revoked_capability_gives_42501_naming_it(cdf, roles):
    client_id, secret = f"sec-revoke-{uid()}", f"revoke-secret-{uid()}"
    cdf.put_client(client_id, secret, [cap("assetsAcl", "READ", "WRITE")])
    role = roles.make()
    with superuser() as c:
        grant(c, "INSERT", "sec_tables.assets", role)
        map_user(c, role, "sec_main", client_id, secret)
    with as_role(role) as c:
        insert_asset(c, "granted")
        # The CDF admin removes assets:write from the app's group; the cached token stays valid.
        cdf.put_client(client_id, secret, [cap("assetsAcl", "READ")])
        with pytest.raises(errors.InsufficientPrivilege) as e:
            insert_asset(c, "revoked")
    assert "assetsAcl:WRITE" in e.value.diag.message_primary, e.value.diag.message_primary
    assert "capability" in (e.value.diag.message_hint or ""), e.value.diag.message_hint
    assert cdf.external_ids() == {"granted"}


def test_a_role_without_user_mapping_is_told_what_to_create(cdf, roles):
    role = roles.make()
    with superuser() as c:
        grant(c, "SELECT, INSERT", "sec_tables.assets", role)
    with as_role(role) as c:
        for statement in (lambda: insert_asset(c, "unmapped"), lambda: c.execute("SELECT * FROM sec_tables.assets")):
            with pytest.raises(psycopg.Error) as e:
                statement()
            assert e.value.sqlstate == "HV00N", (e.value.sqlstate, str(e.value))
            assert f'role "{role}" has no user mapping for CDF server "sec_main"' in e.value.diag.message_primary
            assert f'CREATE USER MAPPING FOR "{role}" SERVER "sec_main"' in (e.value.diag.message_hint or "")
    assert cdf.stats()["total_requests"] == 0


def test_a_mapping_for_another_server_does_not_open_this_one(cdf, roles):
    role = roles.make()
    other = f"sec_other_{uid()}"
    with superuser() as c:
        create_server(c, other, cdf.url, cdf.token_url, client=None)
        map_user(c, role, other, "demo-client", "demo-secret")
        grant(c, "INSERT", "sec_tables.assets", role)  # a table of sec_main
    with as_role(role) as c, pytest.raises(psycopg.Error) as e:
        insert_asset(c, "wrong-server")
    assert e.value.sqlstate == "HV00N", (e.value.sqlstate, str(e.value))
    assert 'server "sec_main"' in e.value.diag.message_primary
    assert cdf.external_ids() == set()


# === 3. TLS ===================================================================================

@pytest.fixture(scope="module")
def certs():
    """Test CA, server cert for 127.0.0.1/localhost, expired cert, unrelated CA (openssl CLI), in a
    directory the postgres server process can read."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl CLI is not installed")
    d = tempfile.mkdtemp(prefix="cdf_sec_certs_")
    os.chmod(d, 0o755)
    subprocess.run(["bash", os.path.join(ROOT, "tests", "tools", "make_test_certs.sh"), d], check=True)
    yield {name: os.path.join(d, f"{name}.pem") for name in ("ca", "other-ca", "server", "expired")} | {
        "server.key": os.path.join(d, "server.key"), "expired.key": os.path.join(d, "expired.key")}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_emu(certs):
    e = EmulatorProcess(tls=(certs["server"], certs["server.key"]), ca_file=certs["ca"])
    yield e
    e.close()


def tls_server(c, e, **extra):
    name = f"sec_tls_{uid()}"
    create_server(c, name, e.url, e.token_url, schema=name, **extra)
    return f"{name}.assets"


def test_tls_with_the_private_ca_in_ca_file_works(db, tls_emu, certs):
    assert tls_emu.url.startswith("https://127.0.0.1:")
    with superuser() as c:
        table = tls_server(c, tls_emu, ca_file=certs["ca"])
        insert_asset(c, "over-tls", table)
    assert "over-tls" in tls_emu.external_ids()


def assert_tls_failure(e, *words):
    # The token endpoint is the first request: a TLS failure there is a connection failure
    # (08006), not a credentials problem; the message must point at the certificate.
    assert e.sqlstate == "08006", (e.sqlstate, str(e))
    text = str(e).lower()
    assert "certificate" in text or "tls" in text, str(e)
    for w in words:
        assert w.lower() in text, str(e)


def test_tls_without_ca_file_is_refused(db, tls_emu):
    with superuser() as c:
        table = tls_server(c, tls_emu)
        with pytest.raises(psycopg.Error) as e:
            insert_asset(c, "untrusted", table)
    assert_tls_failure(e.value)
    assert "untrusted" not in tls_emu.external_ids()


def test_tls_with_an_unrelated_ca_is_refused(db, tls_emu, certs):
    with superuser() as c:
        table = tls_server(c, tls_emu, ca_file=certs["other-ca"])
        with pytest.raises(psycopg.Error) as e:
            insert_asset(c, "wrong-ca", table)
    assert_tls_failure(e.value)
    assert "wrong-ca" not in tls_emu.external_ids()


def test_tls_with_an_expired_certificate_is_refused(db, certs):
    e = EmulatorProcess(tls=(certs["expired"], certs["expired.key"]), ca_file=certs["ca"])
    try:
        with superuser() as c:
            table = tls_server(c, e, ca_file=certs["ca"])
            with pytest.raises(psycopg.Error) as err:
                insert_asset(c, "expired", table)
        assert_tls_failure(err.value, "expired")
    finally:
        e.close()


def test_create_user_also_verifies_tls(db, tls_emu, roles):
    user = roles.track(f"{ROLE_PREFIX}tls_{uid()}")
    with superuser() as c:
        server = f"sec_tls_{uid()}"
        create_server(c, server, tls_emu.url, tls_emu.token_url, client=None)
        with pytest.raises(psycopg.Error) as e:
            create_user(c, "demo-client", "demo-secret", user, server=server)
    assert_tls_failure(e.value)
    assert not role_exists(user)


def test_plain_http_to_a_remote_host_needs_allow_insecure_http(db):
    with superuser() as c:
        for base, token in [("http://cdf.example.com", "https://login.example.com/t"),
                            ("https://cdf.example.com", "http://login.example.com/t"),
                            ("http://127.evil.example/", "https://login.example.com/t")]:
            with pytest.raises(errors.FdwInvalidAttributeValue, match="plain http") as e:  # HV024
                c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
                    ident(f"sec_http_{uid()}"), server_options(base, token)))
            assert "allow_insecure_http" in e.value.diag.message_hint
        # An explicit opt-in by the DBA is accepted.
        name = f"sec_http_{uid()}"
        c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
            ident(name), server_options("http://cdf.example.com", "http://login.example.com/t",
                                        allow_insecure_http="true")))
        # Taking the opt-in away again, or adding http later, is checked as well (ALTER SERVER).
        with pytest.raises(errors.FdwInvalidAttributeValue):
            c.execute(sql.SQL("ALTER SERVER {} OPTIONS (DROP allow_insecure_http)").format(ident(name)))
        secure = f"sec_https_{uid()}"
        c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
            ident(secure), server_options("https://cdf.example.com", "https://login.example.com/t")))
        with pytest.raises(errors.FdwInvalidAttributeValue):
            c.execute(sql.SQL("ALTER SERVER {} OPTIONS (SET base_url 'http://cdf.example.com')").format(ident(secure)))


# === 4. SSRF guard: where non-superusers may point a server =====================================

@pytest.fixture
def developer(roles):
    """A non-superuser allowed to create cdf_fdw servers (USAGE on the wrapper), with a password."""
    password = f"dev-{uid()}"
    role = roles.make(password=password)
    with superuser() as c:
        c.execute(sql.SQL("GRANT USAGE ON FOREIGN DATA WRAPPER cdf_fdw TO {}").format(ident(role)))
        c.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(DBNAME), ident(role)))
    return role, password


def create_server_as(c, base, token, **extra):
    name = f"sec_dev_{uid()}"
    c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
        ident(name), server_options(base, token, **extra)))
    return name


def test_non_superusers_cannot_point_servers_at_internal_urls(cdf, developer):
    role, password = developer
    pg_port = os.environ.get("PGPORT", "5432")
    with login(role, password) as c:
        # A DBA's "allow everything" cannot be faked by setting the parameter: refused when the
        # library is preloaded (the test clusters), and without preload a placeholder set before
        # the library loads is dropped with a warning when it does.
        try:
            c.execute("SET cdf_fdw.allowed_urls = 'http://127.0.0.1:*/, https://169.254.169.254/'")
        except errors.InsufficientPrivilege:
            pass
        for base, token in [
            (cdf.url, cdf.token_url),  # something on the database host
            (f"http://127.0.0.1:{pg_port}", f"http://127.0.0.1:{pg_port}/t"),
            ("https://169.254.169.254/", "https://169.254.169.254/latest/meta-data"),  # cloud metadata
            ("https://foo.cognitedata.com", "https://169.254.169.254/token"),  # token_url counts too
            ("https://cognitedata.com.evil.example/", "https://login.microsoftonline.com/t/oauth2/v2.0/token"),
        ]:
            with pytest.raises(errors.InsufficientPrivilege) as e:
                create_server_as(c, base, token)
            assert "cdf_fdw.allowed_urls" in (e.value.diag.message_hint or ""), (base, token, e.value.diag.message_hint)
        # Neither can it make the server read a file of the database host, or drop TLS.
        for extra in ({"ca_file": "/etc/passwd"}, {"allow_insecure_http": "true"}):
            with pytest.raises(errors.InsufficientPrivilege):
                create_server_as(c, "https://foo.cognitedata.com", "https://login.microsoftonline.com/t/oauth2/v2.0/token", **extra)
        # CDF itself is allowed by default ...
        name = create_server_as(c, "https://foo.cognitedata.com", "https://login.microsoftonline.com/t/oauth2/v2.0/token")
        # ... but the role cannot repoint its own server afterwards ...
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute(sql.SQL("ALTER SERVER {} OPTIONS (SET base_url {})").format(ident(name), sql.Literal(cdf.url)))
        # ... nor widen the setting itself.
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute(sql.SQL("SET cdf_fdw.allowed_urls = {}").format(sql.Literal(cdf.url + "/")))
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute(sql.SQL("ALTER ROLE CURRENT_USER SET cdf_fdw.allowed_urls = {}").format(sql.Literal(cdf.url + "/")))


def test_a_superuser_can_allow_more_urls(cdf, developer):
    role, password = developer
    # In a session: a superuser sets it, then switches to the role.
    with superuser() as c:
        c.execute("SELECT set_config('cdf_fdw.allowed_urls', %s, false)", (cdf.url + "/",))
        c.execute(sql.SQL("SET ROLE {}").format(ident(role)))
        create_server_as(c, cdf.url, cdf.token_url)
    # For the role's own logins: ALTER ROLE ... SET, superuser only.
    with superuser() as c:
        c.execute(sql.SQL("ALTER ROLE {} SET cdf_fdw.allowed_urls = {}").format(ident(role), sql.Literal(cdf.url + "/")))
    with login(role, password) as c:
        name = create_server_as(c, cdf.url, cdf.token_url)
        # The allowance is for that URL, not for the host's other ports.
        with pytest.raises(errors.InsufficientPrivilege):
            create_server_as(c, "http://127.0.0.1:1/", "http://127.0.0.1:1/t")
        # And the server works for its owner.
        c.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (client_id 'demo-client', client_secret 'demo-secret')")
                  .format(ident(name)))
        c.execute(sql.SQL("CREATE SCHEMA {}").format(ident(name)))
        c.execute(sql.SQL("IMPORT FOREIGN SCHEMA cdf LIMIT TO (assets) FROM SERVER {} INTO {}").format(ident(name), ident(name)))
        insert_asset(c, "by-developer", f"{name}.assets")
    assert "by-developer" in cdf.external_ids()


# === 5. Secrets never leak =====================================================================

def test_emulator_token_format(cdf):
    """The leak checks below look for TOKEN_PATTERN; make sure it matches what the emulator issues."""
    assert TOKEN_PATTERN.fullmatch(cdf.fetch_token("demo-client", "demo-secret"))


def assert_no_secret(texts, secrets, where):
    for text in texts:
        for s in secrets:
            assert s not in text, f"secret {s!r} leaked into {where}: {text[:2000]!r}"
        m = TOKEN_PATTERN.search(text)
        assert not m, f"an access token leaked into {where}: {text[:2000]!r}"


@pytest.fixture
def leaky_setup(cdf, db):
    """A client with distinctive secret strings, and a server whose token requests go through a
    proxy that records every token the FDW is given."""
    client_id = f"sec-leak-{uid()}"
    secret, wrong, rotated = (f"{kind}Secret{uuid.uuid4().hex}" for kind in ("Leak", "Wrong", "Rotated"))
    cdf.put_client(client_id, secret, ALL_CAPABILITIES)
    proxy = TokenProxy(cdf.token_url)
    server = f"sec_leak_{uid()}"
    with superuser() as c:
        create_server(c, server, cdf.url, proxy.url, schema=server, tables=("assets", "events"),
                      client=(client_id, secret))
    yield {"client_id": client_id, "secret": secret, "wrong": wrong, "rotated": rotated,
           "proxy": proxy, "server": server, "emulator": cdf}
    proxy.close()


def test_secrets_and_tokens_never_leak_into_errors_explain_or_the_log(leaky_setup, roles):
    s = leaky_setup
    cdf, server, client_id = s["emulator"], s["server"], s["client_id"]
    secrets = [s["secret"], s["wrong"], s["rotated"]]
    log_path = os.environ.get("CDF_FDW_PG_LOG")
    log = ServerLog(log_path) if log_path else None
    seen = []  # everything the client received

    def failing(statement, *params):
        with pytest.raises(psycopg.Error) as e:
            c.execute(statement, params or None)
        seen.extend(error_texts(e.value))
        return e.value

    def lit(v):
        return sql.Literal(v)

    with superuser() as c:
        c.add_notice_handler(lambda d: seen.extend([d.message_primary or "", d.message_detail or "", d.message_hint or ""]))
        c.execute("SET log_min_messages = debug5")
        c.execute("SET client_min_messages = error")
        c.execute("SET log_error_verbosity = verbose")

        # create_user, failing then succeeding. Secrets as literals in simple-protocol statements
        # (as typed in psql) and as bound parameters (as a driver sends them). Literals in an
        # extended-protocol statement are not used: PostgreSQL itself logs their text at DEBUG2
        # ("parse <unnamed>: ..."), like log_statement; the extension cannot hide that.
        wrong_user = roles.track(f"{ROLE_PREFIX}leak_wrong_{uid()}")
        q = sql.SQL("SELECT * FROM cdf.create_user({}, {}, {}, {})")
        err = failing(q.format(lit(server), lit(client_id), lit(s["wrong"]), lit(wrong_user)))
        assert err.sqlstate == "28000"
        failing("SELECT * FROM cdf.create_user(%s, %s, %s, %s)", server, client_id, s["wrong"], wrong_user)
        user = roles.track(f"{ROLE_PREFIX}leak_{uid()}")
        row = c.execute(q.format(lit(server), lit(client_id), lit(s["secret"]), lit(user))).fetchone()
        seen.extend(str(v) for v in row[2] + row[3])
        user2 = roles.track(f"{ROLE_PREFIX}leak2_{uid()}")
        row2 = c.execute("SELECT * FROM cdf.create_user(%s, %s, %s, %s)", (server, client_id, s["secret"], user2)).fetchone()
        # The generated passwords are for the caller only: never in the log either.
        passwords = [row[1], row2[1], c.execute("SELECT cdf.reset_password(%s)", (user,)).fetchone()[0]]

        # rotate_secret: wrong secret; a mapping that lost its client_secret option is repaired
        # (the secret is added, not set); then a successful rotation.
        failing(sql.SQL("SELECT cdf.rotate_secret({}, {})").format(lit(user), lit(s["wrong"])))
        c.execute(sql.SQL("ALTER USER MAPPING FOR {} SERVER {} OPTIONS (DROP client_secret)").format(ident(user2), ident(server)))
        c.execute(sql.SQL("SELECT cdf.rotate_secret({}, {})").format(lit(user2), lit(s["secret"])))
        cdf.put_client(client_id, s["rotated"], ALL_CAPABILITIES)
        c.execute(sql.SQL("SELECT cdf.rotate_secret({}, {})").format(lit(user), lit(s["rotated"])))

        # INSERTs: succeeding, refused by CDF (503; a row without external id is not retried),
        # and with a mapping whose secret is wrong.
        c.execute(sql.SQL("ALTER USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (SET client_secret {})")
                  .format(ident(server), lit(s["rotated"])))
        table = sql.Identifier(server, "assets")
        c.execute(sql.SQL("INSERT INTO {} (external_id, name) VALUES ('leak-ok', 'ok')").format(table))
        cdf.faults([{"endpoint": "POST /assets", "fault": {"status": 503}}])
        failing(sql.SQL("INSERT INTO {} (name) VALUES ('no external id')").format(table))
        cdf.faults([{"endpoint": "POST /events/list", "fault": {"status": 500}}, {"endpoint": "POST /events", "fault": {"status": 403}}])
        failing(sql.SQL("SELECT * FROM {}").format(sql.Identifier(server, "events")))
        cdf.clear_faults()
        bad = roles.make()
        grant(c, "SELECT, INSERT", f"{server}.assets", bad)
        map_user(c, bad, server, client_id, s["wrong"])
        c.execute(sql.SQL("SET ROLE {}").format(ident(bad)))
        err = failing(sql.SQL("INSERT INTO {} (external_id, name) VALUES ('leak-bad', 'bad')").format(table))
        assert err.sqlstate == "28000"
        c.execute("RESET ROLE")

        # EXPLAIN of an INSERT and of a SELECT (with ANALYZE: it really talks to CDF).
        for statement in (sql.SQL("EXPLAIN (VERBOSE) INSERT INTO {} (external_id, name) VALUES ('x', 'y')"),
                          sql.SQL("EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM {} WHERE external_id = 'leak-ok'")):
            seen.extend(r[0] for r in c.execute(statement.format(table)).fetchall())

    tokens = s["proxy"].tokens
    assert len(tokens) >= 4, f"the scenario should have fetched tokens: {tokens}"
    assert any("credentials do not work" in t for t in seen), "the failures above were not captured"
    assert any("CDF Endpoint" in t for t in seen), "EXPLAIN output was not captured"
    assert_no_secret(seen, secrets, "what the client received")
    for t in tokens:
        assert not any(t in x for x in seen), "a token leaked to the client"

    if log is None:
        pytest.skip("CDF_FDW_PG_LOG is not set: the server log was not checked")
    text = log.new_text()
    # Make sure the log really holds this session's debug output and errors, so that the check
    # below is not vacuous.
    assert "DEBUG" in text and "credentials do not work" in text, text[-3000:]
    assert_no_secret([text], secrets + passwords, "the server log")
    for t in tokens:
        assert t not in text, "a token leaked into the server log"


def watch_while_running(proxy, statement):
    """Runs `statement` in one session while the token proxy holds its token request, and returns
    (state, query) of that session in pg_stat_activity as a superuser (who sees every query
    text) sees it while the statement runs and after it finished."""
    proxy.received.clear()
    proxy.delay = 1.5
    result = {}
    with superuser() as runner, superuser() as watcher:
        pid = runner.info.backend_pid

        def call():
            try:
                runner.execute(statement)
            except Exception as e:  # reported below
                result["error"] = e

        t = threading.Thread(target=call)
        t.start()
        try:
            assert proxy.received.wait(10), "the statement never asked for a token"
            running = watcher.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        finally:
            t.join(15)
            proxy.delay = 0
        idle = watcher.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert "error" not in result, result.get("error")
    return running, idle


def test_pg_stat_activity_never_shows_the_secret(leaky_setup, roles):
    """Secrets as literals (as typed in psql): while cdf.create_user / cdf.rotate_secret wait for
    the token endpoint, and after they finished, other sessions must not see them."""
    s = leaky_setup
    user = roles.track(f"{ROLE_PREFIX}act_{uid()}")
    create = sql.SQL("SELECT * FROM cdf.create_user({}, {}, {}, {})").format(
        sql.Literal(s["server"]), sql.Literal(s["client_id"]), sql.Literal(s["secret"]), sql.Literal(user))
    running, idle = watch_while_running(s["proxy"], create)
    assert running[0] == "active" and "create_user" in running[1], running
    assert s["secret"] not in running[1], f"pg_stat_activity shows the secret while create_user runs: {running}"
    assert s["secret"] not in idle[1], f"pg_stat_activity shows the secret after create_user: {idle}"

    s["emulator"].put_client(s["client_id"], s["rotated"], ALL_CAPABILITIES)
    rotate = sql.SQL("SELECT cdf.rotate_secret({}, {})").format(sql.Literal(user), sql.Literal(s["rotated"]))
    running, idle = watch_while_running(s["proxy"], rotate)
    assert running[0] == "active" and "rotate_secret" in running[1], running
    assert s["rotated"] not in running[1], f"pg_stat_activity shows the secret while rotate_secret runs: {running}"
    assert s["rotated"] not in idle[1], f"pg_stat_activity shows the secret after rotate_secret: {idle}"
    assert mapping_options(user, s["server"])["client_secret"] == s["rotated"]


@pytest.fixture
def redirect_to_another_host():
    """A server on 127.0.0.1 that redirects (307) everything to a recorder on "localhost": a
    different host name, as a compromised or misconfigured endpoint could do."""
    recorder = Redirector()
    redirector = Redirector(f"http://localhost:{recorder.port}/elsewhere")
    yield redirector, recorder
    redirector.close()
    recorder.close()


def test_bearer_tokens_are_not_forwarded_to_a_redirect_target(cdf, db, redirect_to_another_host):
    redirector, recorder = redirect_to_another_host
    name = f"sec_redir_{uid()}"
    with superuser() as c:
        create_server(c, name, f"http://127.0.0.1:{redirector.port}", cdf.token_url, schema=name)
        with pytest.raises(psycopg.Error):
            insert_asset(c, "redirected", f"{name}.assets")
    assert redirector.seen, "the API request did not reach the redirecting server"
    for method, path, headers, body in recorder.seen:
        assert not any(TOKEN_PATTERN.search(v) for v in headers.values()), f"bearer token sent to {path}: {headers}"


def test_the_client_secret_is_not_sent_to_a_redirect_target(db, redirect_to_another_host):
    redirector, recorder = redirect_to_another_host
    name, secret = f"sec_redir_{uid()}", f"RedirectSecret{uuid.uuid4().hex}"
    with superuser() as c:
        create_server(c, name, f"http://127.0.0.1:{redirector.port}", f"http://127.0.0.1:{redirector.port}/oauth2/token",
                      schema=name, client=("redirect-client", secret))
        with pytest.raises(psycopg.Error):
            insert_asset(c, "redirected", f"{name}.assets")
    assert redirector.seen and secret in redirector.seen[0][3], "the token request did not reach the token endpoint"
    leaked = [(path, body) for _, path, _, body in recorder.seen if secret in body]
    assert not leaked, f"the client secret was re-sent to a redirect target on another host: {leaked}"


def test_user_mapping_options_are_only_visible_to_their_role(leaky_setup, roles):
    s = leaky_setup
    with superuser() as c:
        user = roles.track(f"{ROLE_PREFIX}um_{uid()}")
        _, password, _, _ = create_user(c, s["client_id"], s["secret"], user, server=s["server"])
        # Another non-superuser with a mapping of its own, and USAGE on the server.
        other = roles.make()
        map_user(c, other, s["server"], "other-client", "other-own-secret")
        c.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER {} TO {}").format(ident(s["server"]), ident(other)))
    with as_role(other) as c:
        rows = dict(c.execute("SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = %s", (s["server"],)).fetchall())
        assert rows[other] == ["client_id=other-client", "client_secret=other-own-secret"]
        assert rows[user] is None and rows["postgres"] is None, rows
        values = c.execute("SELECT authorization_identifier, option_value FROM information_schema.user_mapping_options "
                           "WHERE foreign_server_name = %s AND option_name = 'client_secret'", (s["server"],)).fetchall()
        assert all(v is None for who, v in values if who != other), values
        # The raw catalog is closed to non-superusers altogether.
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute("SELECT umoptions FROM pg_user_mapping")
    # The login made by create_user has no USAGE on the server (issue 10: it needs none), and
    # PostgreSQL shows a mapping's options only to roles with USAGE: it sees no secret at all,
    # not even its own.
    with login(user, password) as u:
        rows = dict(u.execute("SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = %s", (s["server"],)).fetchall())
        assert rows[user] is None and rows[other] is None and rows["postgres"] is None, rows


# === 6. Privileges: PostgreSQL's GRANTs decide which tables a role may write ====================

def test_a_role_writes_only_the_tables_it_was_granted(cdf, roles):
    role = roles.make()
    with superuser() as c:
        # Full CDF rights for the identity; PostgreSQL grants are the only limit here.
        map_user(c, role, "sec_main", "demo-client", "demo-secret")
        grant(c, "INSERT", "sec_tables.assets", role)
        grant(c, "SELECT", "sec_tables.events", role)
    with as_role(role) as c:
        insert_asset(c, "allowed")
        for statement, table in [
            ("INSERT INTO sec_tables.events (external_id, start_time) VALUES ('e', now())", "events"),
            ("INSERT INTO sec_tables.time_series (external_id, name) VALUES ('t', 't')", "time_series"),
            ("UPDATE sec_tables.assets SET name = 'x' WHERE external_id = 'allowed'", "assets"),
            ("DELETE FROM sec_tables.assets WHERE external_id = 'allowed'", "assets"),
            ("SELECT * FROM sec_tables.assets", "assets"),
            ("COPY sec_tables.raw_rows (_raw_database, _raw_table, _raw_key, _raw_columns) FROM STDIN", "raw_rows"),
        ]:
            with pytest.raises(errors.InsufficientPrivilege, match=f"permission denied for foreign table {table}"):
                c.execute(statement)
    assert cdf.external_ids("assets") == {"allowed"}
    assert cdf.items("events") == [] and cdf.items("timeseries") == []
    assert cdf.endpoint("POST /assets/update")["requests"] == 0 and cdf.endpoint("POST /assets/delete")["requests"] == 0


# === Issue 10: URL tricks, search_path, monitoring, echoed secrets, server USAGE =================

ISSUE10_TRICKS = [
    "https://127.0.0.1:{pg}#.cognitedata.com/",
    "https://127.0.0.1:{pg}?.cognitedata.com/",
    "https://127.0.0.1:{pg}\\.cognitedata.com/",
    "https://evil.example\\@x.cognitedata.com/",
    "https://x.cognitedata.com@127.0.0.1:{pg}/",
    "https://2130706433:{pg}/x.cognitedata.com/",
    "https://x.cognitedata.com.:{pg}/",
    "https://a.b.cognitedata.com/",
]


def test_allowed_urls_are_matched_on_the_parsed_url(cdf, developer):
    """Issue 10 item 1: every trick that hid another host behind an allowed-looking string is
    refused for a non-superuser (42501, or 22023-like HV024 for URLs refused outright)."""
    role, password = developer
    pg = os.environ.get("PGPORT", "5432")
    token = "https://login.microsoftonline.com/t/oauth2/v2.0/token"
    with login(role, password) as c:
        for trick in ISSUE10_TRICKS:
            url = trick.format(pg=pg)
            for base, tok in ((url, token), ("https://foo.cognitedata.com", url)):
                with pytest.raises((errors.InsufficientPrivilege, errors.FdwInvalidAttributeValue)):
                    create_server_as(c, base, tok)
        # An allowed path prefix does not cover its neighbours.
        with pytest.raises(errors.InsufficientPrivilege):
            create_server_as(c, "https://foo.cognitedata.com", "https://login.microsoftonline.com.evil.example/t")
        create_server_as(c, "https://Foo.CogniteData.com:443", token)


def test_plain_http_loopback_guard_parses_like_the_http_client(db):
    """Issue 10 item 5: hosts that only look like loopback to a string check need allow_insecure_http."""
    with superuser() as c:
        for url in ("http://127.a.b.c/", "http://host\\@127.0.0.1/", "http://127.0.0.1.evil.example/",
                    "http://localhost.evil.example/"):
            with pytest.raises(errors.FdwInvalidAttributeValue):
                c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
                    ident(f"sec_lb_{uid()}"), server_options(url, "http://127.0.0.1/t")))
        name = f"sec_lb_{uid()}"
        c.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER cdf_fdw OPTIONS ({})").format(
            ident(name), server_options("http://2130706433:1/", "http://[::1]:1/t")))
        c.execute(sql.SQL("DROP SERVER {}").format(ident(name)))


@pytest.fixture
def attacker_schema(roles):
    """A non-superuser with its own schema, holding functions that make it superuser when a
    superuser runs them."""
    attacker = roles.make()
    schema = f"cdfsec_evil_{uid()}"
    with superuser() as c:
        c.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(ident(schema), ident(attacker)))
    escalate = sql.SQL("EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', {})").format(sql.Literal(attacker))
    with as_role(attacker) as c:
        c.execute(sql.SQL("""CREATE FUNCTION {}.pg_event_trigger_ddl_commands(OUT objid oid, OUT object_type text)
                             RETURNS SETOF record LANGUAGE plpgsql AS $$ BEGIN {}; RETURN; END $$""").format(
            ident(schema), escalate))
        for args in ("text, text", "text, text, text", "text, text, text, text"):
            c.execute(sql.SQL("""CREATE FUNCTION {}.format({}) RETURNS text LANGUAGE plpgsql
                                 AS $$ BEGIN {}; RETURN NULL; END $$""").format(ident(schema), sql.SQL(args), escalate))
        c.execute(sql.SQL("""CREATE FUNCTION {}.pg_has_role(oid, text) RETURNS boolean LANGUAGE plpgsql
                             AS $$ BEGIN {}; RETURN true; END $$""").format(ident(schema), escalate))
    return attacker, schema


def is_superuser(role):
    with superuser() as c:
        return c.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)).fetchone()[0]


def test_a_superusers_search_path_cannot_hijack_the_event_trigger(cdf, attacker_schema):
    """Issue 10 item 4: the event trigger's function runs with a fixed search_path."""
    attacker, schema = attacker_schema
    with superuser() as c:
        c.execute(sql.SQL("SET search_path = {}, pg_catalog, public").format(ident(schema)))
        table = f"sec_evt_{uid()}"
        c.execute(sql.SQL("CREATE FOREIGN TABLE public.{} (external_id text) SERVER sec_main OPTIONS (resource 'assets')")
                  .format(ident(table)))
        c.execute(sql.SQL("DROP FOREIGN TABLE public.{}").format(ident(table)))
        # IMPORT FOREIGN SCHEMA under that search_path still creates catalog types.
        target = f"sec_imp_{uid()}"
        c.execute(sql.SQL("CREATE SCHEMA {}").format(ident(target)))
        c.execute(sql.SQL("IMPORT FOREIGN SCHEMA cdf LIMIT TO (assets) FROM SERVER sec_main INTO {}").format(ident(target)))
        c.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(ident(target)))
    assert not is_superuser(attacker)


def test_a_superusers_search_path_cannot_hijack_create_user(cdf, roles, attacker_schema):
    """Issue 10 item 4: create_user and its siblings run with search_path pg_catalog, pg_temp."""
    attacker, schema = attacker_schema
    with superuser() as c:
        c.execute(sql.SQL("SET search_path = {}, pg_catalog, public").format(ident(schema)))
        login_name = create_user(c, "demo-client", "demo-secret")[0]
        roles.track(login_name)
        c.execute("SELECT cdf.rotate_secret(%s, %s)", (login_name, "demo-secret"))
        c.execute("SELECT cdf.reset_password(%s)", (login_name,))
        c.execute("SELECT cdf.drop_user(%s)", (login_name,))
    assert not is_superuser(attacker)


def test_a_temporary_pg_roles_view_does_not_fool_the_permission_checks(cdf, roles):
    """Issue 10 item 4: a role without CREATEROLE shadows pg_roles with a temporary view that says
    it is a superuser; the checks read the catalog and still refuse it, revealing nothing."""
    with superuser() as c:
        login_name = create_user(c, "demo-client", "demo-secret")[0]
        roles.track(login_name)
    plain = roles.make()
    with superuser() as c:
        # Enough to reach the extension's own check (otherwise schema privileges refuse first).
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA cdf TO {}").format(ident(plain)))
        c.execute(sql.SQL("""GRANT EXECUTE ON FUNCTION cdf.rotate_secret(text, text), cdf.reset_password(text),
                             cdf.drop_user(text) TO {}""").format(ident(plain)))
    tokens_before = (cdf.endpoint("POST /oauth2/token") or {}).get("requests", 0)
    with as_role(plain) as c:
        c.execute("""CREATE TEMPORARY VIEW pg_roles AS
                     SELECT current_user::name AS rolname, true AS rolsuper, true AS rolcreaterole, 0::oid AS oid""")
        c.execute("CREATE TEMPORARY VIEW pg_authid AS SELECT * FROM pg_temp.pg_roles")
        refusals = []
        # A wrong and the right guess of the secret: the same refusal, before CDF is asked.
        for statement, args in (("SELECT cdf.rotate_secret(%s, %s)", (login_name, "guess")),
                                ("SELECT cdf.rotate_secret(%s, %s)", (login_name, "demo-secret")),
                                ("SELECT cdf.reset_password(%s)", (login_name,)),
                                ("SELECT cdf.drop_user(%s)", (login_name,))):
            with pytest.raises(errors.InsufficientPrivilege) as e:
                c.execute(statement, args)
            assert "demo-client" not in " ".join(error_texts(e.value))
            refusals.append(e.value.diag.message_primary)
            c.execute("ROLLBACK") if c.info.transaction_status != psycopg.pq.TransactionStatus.IDLE else None
    # The extension's own check refused each call (not a later PostgreSQL privilege error).
    assert all("CREATEROLE" in r for r in refusals), refusals
    assert (cdf.endpoint("POST /oauth2/token") or {}).get("requests", 0) == tokens_before
    assert role_exists(login_name)


def test_create_user_does_not_grant_usage_on_the_server(cdf, roles, limited):
    """Issue 10 item 5: the login reads and writes through its table grants alone; without USAGE it
    cannot define foreign tables of its own on the server."""
    client_id, secret = limited
    with superuser() as c:
        name, password, _, _ = create_user(c, client_id, secret)
        roles.track(name)
        assert not c.execute("SELECT has_server_privilege(%s, 'sec_main', 'USAGE')", (name,)).fetchone()[0]
        c.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(ident(name)))
    with login(name, password) as c:
        insert_asset(c, f"no-usage-{uid()}")
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute("CREATE FOREIGN TABLE public.mine (external_id text) SERVER sec_main OPTIONS (resource 'assets')")


def statements_text():
    with superuser() as c:
        return [r[0] for r in c.execute("SELECT query FROM pg_stat_statements").fetchall()]


def test_secrets_never_reach_pg_stat_statements_auto_explain_or_notices(leaky_setup, roles):
    """Issue 10 item 3: with pg_stat_statements.track = all, auto_explain of nested statements
    (verbose, analyze) and a username over 63 bytes, no client secret or generated password is
    stored, logged or shown in a NOTICE/CONTEXT."""
    s = leaky_setup
    with superuser() as c:
        if not c.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone():
            try:
                c.execute("CREATE EXTENSION pg_stat_statements")
            except psycopg.Error:
                pytest.skip("pg_stat_statements is not in shared_preload_libraries")
        try:
            c.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pytest.skip("pg_stat_statements is not in shared_preload_libraries")
    log = ServerLog(os.environ["CDF_FDW_PG_LOG"]) if os.environ.get("CDF_FDW_PG_LOG") else None
    notices = []
    secrets = [s["secret"], s["rotated"]]
    with superuser() as c:
        c.add_notice_handler(lambda d: notices.append(f"{d.severity} {d.message_primary} {d.context} {d.message_detail}"))
        c.execute("SET pg_stat_statements.track = 'all'")
        c.execute("SET pg_stat_statements.track_utility = on")
        c.execute("LOAD 'auto_explain'")
        for k, v in (("log_min_duration", "0"), ("log_nested_statements", "on"), ("log_verbose", "on"),
                     ("log_analyze", "on"), ("log_parameter_max_length", "-1")):
            try:
                c.execute(f"SET auto_explain.{k} = {v}")
            except psycopg.Error:  # log_parameter_max_length is PostgreSQL 16+
                pass
        row = c.execute("SELECT username, password FROM cdf.create_user(%s, %s, %s)",
                        (s["server"], s["client_id"], s["secret"])).fetchone()
        name, password = roles.track(row[0]), row[1]
        s["emulator"].put_client(s["client_id"], s["rotated"], ALL_CAPABILITIES)
        c.execute("SELECT cdf.rotate_secret(%s, %s)", (name, s["rotated"]))
        new_password = c.execute("SELECT cdf.reset_password(%s)", (name,)).fetchone()[0]
        secrets += [password, new_password]
        long_name = "u" * 70
        with pytest.raises(psycopg.Error) as e:
            c.execute("SELECT * FROM cdf.create_user(%s, %s, %s, %s)",
                      (s["server"], s["client_id"], s["secret"], long_name))
        assert e.value.sqlstate == "42622", e.value
        assert_no_secret(error_texts(e.value), secrets, "the error of a long username")
        assert not role_exists(long_name[:63])
    assert_no_secret(notices, secrets, "notices")
    texts = statements_text()
    assert any("create_user" in t for t in texts), texts  # it did record the calls
    assert_no_secret(texts, secrets, "pg_stat_statements")
    if log:
        time.sleep(0.3)
        text = log.new_text()
        assert "Query Text" in text or "duration" in text, "auto_explain logged nothing"
        assert_no_secret([text], secrets, "the server log (auto_explain)")


class EchoServer:
    """A token endpoint and API that answer errors echoing the request (body and headers)."""

    def __init__(self, token_status=400):
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                if self.path.startswith("/oauth2/token"):
                    if echo.token_ok:
                        self._answer(200, {"access_token": "echoTok" + uuid.uuid4().hex, "expires_in": 3600})
                    else:
                        self._answer(token_status, {"error": "invalid_client", "error_description": f"got {body}"})
                else:
                    self._answer(400, {"error": {"code": 400, "message": f"bad: {body} {self.headers.get('authorization')}"}})

            do_GET = do_POST

            def _answer(self, status, obj):
                import json
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        from http.server import ThreadingHTTPServer
        self.token_ok = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_echoed_secrets_and_tokens_are_scrubbed_from_errors(db):
    """Issue 10 item 3: an identity provider or API that echoes the request cannot put the client
    secret or the bearer token into the error."""
    echo = EchoServer()
    secret = f"EchoSecret{uuid.uuid4().hex}"
    server = f"sec_echo_{uid()}"
    try:
        with superuser() as c:
            create_server(c, server, echo.url, echo.url + "/oauth2/token", schema=server, tables=("assets",),
                          client=("echo-client", secret))
            for token_ok in (False, True):
                echo.token_ok = token_ok
                with pytest.raises(psycopg.Error) as e:
                    c.execute(sql.SQL("SELECT * FROM {}.assets").format(ident(server))).fetchall()
                texts = error_texts(e.value)
                assert "redacted" in " ".join(texts), texts
                assert_no_secret(texts, [secret, "echoTok"], "an echoed error")
    finally:
        echo.close()


def test_every_function_of_the_extension_runs_with_a_fixed_search_path(db):
    """Issue 10 item 4: each function (the event trigger's included) is created with
    search_path = pg_catalog, pg_temp, whatever else it qualifies, so that no caller's
    search_path is consulted. A function that loses the setting fails here even while its
    schema-qualified calls still keep the hijack tests above from succeeding."""
    with superuser() as c:
        functions = c.execute(
            """SELECT p.oid::regprocedure::text, p.proconfig
                 FROM pg_catalog.pg_proc p
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e'
                 JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'cdf_fdw'
                ORDER BY 1""").fetchall()
    assert len(functions) >= 10, functions
    unfixed = [name for name, config in functions if "search_path=pg_catalog, pg_temp" not in (config or [])]
    assert unfixed == [], f"functions without a fixed search_path: {unfixed}"
    assert any("cdf_fdw_check_new_tables" in name for name, _ in functions)
