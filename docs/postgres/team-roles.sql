-- jupyter_mlm on a shared PostgreSQL database: one login role per person.
-- Run as the database owner AFTER the first `jupyter mlm init` (which creates the tables),
-- and again after an upgrade that adds tables. Replace the names and passwords.
--
-- What this buys: the registry records the database's session_user for every change, so the
-- requester of a promotion cannot approve it under another name, and members cannot rewrite
-- or delete audit events (the log is append-only for them).

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mlm_member') THEN
    CREATE ROLE mlm_member NOLOGIN;
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO mlm_member;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO mlm_member;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mlm_member;
-- The audit log: members append and read, never change or remove.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM mlm_member;
-- Schema changes stay with the owner (members get no CREATE on the schema).
REVOKE CREATE ON SCHEMA public FROM mlm_member;

-- One role per person (LOGIN, member of mlm_member), e.g.:
--   CREATE ROLE ana LOGIN PASSWORD '…' IN ROLE mlm_member;
--   CREATE ROLE bo  LOGIN PASSWORD '…' IN ROLE mlm_member;
-- A Jupyter server shared by several people through JupyterHub, with one role of its own,
-- vouches for the hub's users instead: make that role a member of mlm_service.
--   CREATE ROLE mlm_service NOLOGIN;
--   GRANT mlm_service TO hub_server;
