-- The PostgreSQL roles the applications connect as. Run as the schema's owner, in the schema
-- (search_path) the migrations created, after every `casevault migrate`; it is idempotent.
--
--   casevault_app     the internal portal, the command line and the worker: reads and writes
--                     rows, never the schema. It owns nothing, so it cannot ALTER or DROP a
--                     table, disable or drop a trigger; the ledger is append-only to it.
--   casevault_public  the public portal: applicants' accounts and sessions, their disclosure
--                     requests and what was released to them, the holiday calendar, and
--                     appending its decisions to the ledger, whose entries it cannot read.
--
-- Row-level security keeps staff accounts (and their password hashes) and retrieval grants out
-- of the public role's sight. The owner is exempt (migrations, backups run as the owner).
-- Passwords are set apart from this file: ALTER ROLE casevault_app PASSWORD '…'.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'casevault_app') THEN
        CREATE ROLE casevault_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'casevault_public') THEN
        CREATE ROLE casevault_public LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$;

-- Start from nothing each run, so a privilege dropped here is dropped in the database too.
DO $$
DECLARE
    schema_name text := current_schema();
BEGIN
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', schema_name);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM casevault_app, casevault_public', schema_name);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO casevault_app, casevault_public', schema_name);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM casevault_app, casevault_public', schema_name);
    EXECUTE format(
        'REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM casevault_app, casevault_public', schema_name
    );
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO casevault_app', schema_name
    );
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO casevault_app', schema_name);
END $$;

-- The internal app: the ledger only grows (the triggers refuse the rest as well), and the
-- migration history is read, never written.
REVOKE UPDATE, DELETE ON ledger_entries, ledger_checkpoints, ledger_notes, ledger_cosignatures
    FROM casevault_app;
REVOKE INSERT, DELETE ON ledger_head FROM casevault_app;
REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM casevault_app;

-- The public app.
GRANT SELECT, INSERT, UPDATE ON users, disclosure_requests TO casevault_public;
GRANT SELECT, INSERT ON applicants, disclosure_messages TO casevault_public;
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO casevault_public;
-- An open disclosure request holds the case it names (冻结): its id is all the public app reads.
GRANT SELECT (id, case_no) ON cases TO casevault_public;
GRANT SELECT, INSERT, UPDATE ON legal_holds TO casevault_public;
GRANT SELECT ON released_items, holiday_days, holiday_years, retrieval_grants, recorded_activities, alembic_version
    TO casevault_public;
-- Appending a decision: the entry goes in, and the statement returns its place in the chain
-- (RETURNING needs SELECT on those columns); who did what stays unreadable.
GRANT INSERT ON ledger_entries TO casevault_public;
GRANT SELECT (seq, prev_hash, entry_hash) ON ledger_entries TO casevault_public;
GRANT SELECT, UPDATE ON ledger_head TO casevault_public;
-- The public checkpoint feed: signed tree heads, their notes and cosignatures (nothing of an
-- entry; consistency proofs are hashed from the entry hashes above).
GRANT SELECT ON ledger_checkpoints, ledger_notes, ledger_cosignatures TO casevault_public;
DO $$
DECLARE
    owned text;
BEGIN
    FOREACH owned IN ARRAY ARRAY['users', 'applicants', 'disclosure_requests', 'disclosure_messages', 'legal_holds'] LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO casevault_public', pg_get_serial_sequence(owned, 'id'));
    END LOOP;
END $$;

-- Rows the public role may see: applicants' accounts only, and no retrieval grants at all (it
-- asks for the caller's own, and an applicant has none).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS casevault_app_rows ON users;
CREATE POLICY casevault_app_rows ON users TO casevault_app USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS casevault_public_rows ON users;
CREATE POLICY casevault_public_rows ON users TO casevault_public
    USING (role = 'applicant') WITH CHECK (role = 'applicant');
ALTER TABLE retrieval_grants ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS casevault_app_rows ON retrieval_grants;
CREATE POLICY casevault_app_rows ON retrieval_grants TO casevault_app USING (true) WITH CHECK (true);
