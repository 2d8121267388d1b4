-- The four service schemas as Dockyard 0.1 left them (commit 53008b5: identity at
-- 0005_api_token_names_reusable, projects at 0003_projects_model, deployer and audit at
-- 0002_revoked_users, the kit's tables created by each service's own chain), with a few rows, for
-- tests/test_kit_migrations.py. Made by that code's migrations on an empty database, rows added by
-- plain SQL, then: pg_dump --clean --if-exists --no-comments -n identity -n projects -n deployer -n audit

--
-- PostgreSQL database dump
--

\restrict t4hCSyjNisuAjxoSeSyhk0oChOonNBzgJAcmqOce1vLTYIYhNxuG1rCSjT4FbR8

-- Dumped from database version 18.6
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

DROP POLICY IF EXISTS projects_update_policy ON projects.projects;
DROP POLICY IF EXISTS projects_select_policy ON projects.projects;
DROP POLICY IF EXISTS projects_insert_policy ON projects.projects;
DROP POLICY IF EXISTS projects_delete_policy ON projects.projects;
ALTER TABLE IF EXISTS ONLY projects.volumes DROP CONSTRAINT IF EXISTS volumes_project_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.volumes DROP CONSTRAINT IF EXISTS volumes_database_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.volumes DROP CONSTRAINT IF EXISTS volumes_application_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.git_sources DROP CONSTRAINT IF EXISTS git_sources_application_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.env_vars DROP CONSTRAINT IF EXISTS env_vars_application_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.domains DROP CONSTRAINT IF EXISTS domains_project_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.databases DROP CONSTRAINT IF EXISTS databases_project_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.certificates DROP CONSTRAINT IF EXISTS certificates_domain_id_fkey;
ALTER TABLE IF EXISTS ONLY projects.applications DROP CONSTRAINT IF EXISTS applications_project_id_fkey;
ALTER TABLE IF EXISTS ONLY identity.team_members DROP CONSTRAINT IF EXISTS team_members_user_id_fkey;
ALTER TABLE IF EXISTS ONLY identity.team_members DROP CONSTRAINT IF EXISTS team_members_team_id_fkey;
ALTER TABLE IF EXISTS ONLY identity.refresh_tokens DROP CONSTRAINT IF EXISTS refresh_tokens_user_id_fkey;
ALTER TABLE IF EXISTS ONLY identity.api_tokens DROP CONSTRAINT IF EXISTS api_tokens_user_id_fkey;
DROP TRIGGER IF EXISTS mirror_env_vars ON projects.env_vars;
DROP TRIGGER IF EXISTS team_keeps_an_owner ON identity.team_members;
DROP INDEX IF EXISTS projects.uq_application_stats_project_id;
DROP INDEX IF EXISTS projects.outbox_unpublished_idx;
DROP INDEX IF EXISTS projects.ix_volumes_project_id;
DROP INDEX IF EXISTS projects.ix_volumes_database_id;
DROP INDEX IF EXISTS projects.ix_volumes_application_id;
DROP INDEX IF EXISTS projects.ix_team_members_user_id;
DROP INDEX IF EXISTS projects.ix_projects_team_id;
DROP INDEX IF EXISTS projects.ix_projects_owner_id;
DROP INDEX IF EXISTS projects.ix_projects_newest;
DROP INDEX IF EXISTS projects.ix_projects_metadata;
DROP INDEX IF EXISTS projects.ix_env_vars_application_id;
DROP INDEX IF EXISTS projects.ix_domains_target;
DROP INDEX IF EXISTS projects.ix_domains_project_id;
DROP INDEX IF EXISTS projects.ix_databases_type;
DROP INDEX IF EXISTS projects.ix_databases_project_newest;
DROP INDEX IF EXISTS projects.ix_databases_project_id;
DROP INDEX IF EXISTS projects.ix_certificates_expires_at;
DROP INDEX IF EXISTS projects.ix_certificates_domain_id;
DROP INDEX IF EXISTS projects.ix_applications_status;
DROP INDEX IF EXISTS projects.ix_applications_project_live;
DROP INDEX IF EXISTS projects.ix_applications_project_id;
DROP INDEX IF EXISTS projects.ix_applications_env_vars;
DROP INDEX IF EXISTS projects.ix_applications_docker_config;
DROP INDEX IF EXISTS projects.idx_applications_active;
DROP INDEX IF EXISTS identity.uq_users_email_lower;
DROP INDEX IF EXISTS identity.uq_api_tokens_user_live_name;
DROP INDEX IF EXISTS identity.outbox_unpublished_idx;
DROP INDEX IF EXISTS identity.ix_users_username_prefix;
DROP INDEX IF EXISTS identity.ix_users_role;
DROP INDEX IF EXISTS identity.ix_users_email_prefix;
DROP INDEX IF EXISTS identity.ix_team_members_team_id;
DROP INDEX IF EXISTS identity.ix_refresh_tokens_user;
DROP INDEX IF EXISTS identity.ix_refresh_tokens_family;
DROP INDEX IF EXISTS identity.ix_api_tokens_user;
DROP INDEX IF EXISTS deployer.outbox_unpublished_idx;
DROP INDEX IF EXISTS audit.outbox_unpublished_idx;
ALTER TABLE IF EXISTS ONLY projects.volumes DROP CONSTRAINT IF EXISTS volumes_pkey;
ALTER TABLE IF EXISTS ONLY projects.view_refreshes DROP CONSTRAINT IF EXISTS view_refreshes_pkey;
ALTER TABLE IF EXISTS ONLY projects.user_roles DROP CONSTRAINT IF EXISTS user_roles_pkey;
ALTER TABLE IF EXISTS ONLY projects.volumes DROP CONSTRAINT IF EXISTS uq_volumes_name;
ALTER TABLE IF EXISTS ONLY projects.projects DROP CONSTRAINT IF EXISTS uq_projects_owner_name;
ALTER TABLE IF EXISTS ONLY projects.git_sources DROP CONSTRAINT IF EXISTS uq_git_sources_application_id;
ALTER TABLE IF EXISTS ONLY projects.env_vars DROP CONSTRAINT IF EXISTS uq_env_vars_application_key;
ALTER TABLE IF EXISTS ONLY projects.domains DROP CONSTRAINT IF EXISTS uq_domains_domain;
ALTER TABLE IF EXISTS ONLY projects.databases DROP CONSTRAINT IF EXISTS uq_databases_project_name;
ALTER TABLE IF EXISTS ONLY projects.applications DROP CONSTRAINT IF EXISTS uq_applications_project_name;
ALTER TABLE IF EXISTS ONLY projects.team_members DROP CONSTRAINT IF EXISTS team_members_pkey;
ALTER TABLE IF EXISTS ONLY projects.revoked_users DROP CONSTRAINT IF EXISTS revoked_users_pkey;
ALTER TABLE IF EXISTS ONLY projects.projects DROP CONSTRAINT IF EXISTS projects_pkey;
ALTER TABLE IF EXISTS ONLY projects.parked_events DROP CONSTRAINT IF EXISTS parked_events_pkey;
ALTER TABLE IF EXISTS ONLY projects.parked_events DROP CONSTRAINT IF EXISTS parked_events_consumer_event_id_key;
ALTER TABLE IF EXISTS ONLY projects.outbox DROP CONSTRAINT IF EXISTS outbox_pkey;
ALTER TABLE IF EXISTS ONLY projects.outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
ALTER TABLE IF EXISTS ONLY projects.inbox DROP CONSTRAINT IF EXISTS inbox_pkey;
ALTER TABLE IF EXISTS ONLY projects.git_sources DROP CONSTRAINT IF EXISTS git_sources_pkey;
ALTER TABLE IF EXISTS ONLY projects.env_vars DROP CONSTRAINT IF EXISTS env_vars_pkey;
ALTER TABLE IF EXISTS ONLY projects.domains DROP CONSTRAINT IF EXISTS domains_pkey;
ALTER TABLE IF EXISTS ONLY projects.databases DROP CONSTRAINT IF EXISTS databases_pkey;
ALTER TABLE IF EXISTS ONLY projects.certificates DROP CONSTRAINT IF EXISTS certificates_pkey;
ALTER TABLE IF EXISTS ONLY projects.applications DROP CONSTRAINT IF EXISTS applications_pkey;
ALTER TABLE IF EXISTS ONLY projects.alembic_version DROP CONSTRAINT IF EXISTS alembic_version_pkc;
ALTER TABLE IF EXISTS ONLY identity.users DROP CONSTRAINT IF EXISTS users_pkey;
ALTER TABLE IF EXISTS ONLY identity.users DROP CONSTRAINT IF EXISTS uq_users_username;
ALTER TABLE IF EXISTS ONLY identity.users DROP CONSTRAINT IF EXISTS uq_users_email;
ALTER TABLE IF EXISTS ONLY identity.teams DROP CONSTRAINT IF EXISTS uq_teams_name;
ALTER TABLE IF EXISTS ONLY identity.team_members DROP CONSTRAINT IF EXISTS uq_team_members_user_team;
ALTER TABLE IF EXISTS ONLY identity.refresh_tokens DROP CONSTRAINT IF EXISTS uq_refresh_tokens_hash;
ALTER TABLE IF EXISTS ONLY identity.api_tokens DROP CONSTRAINT IF EXISTS uq_api_tokens_hash;
ALTER TABLE IF EXISTS ONLY identity.teams DROP CONSTRAINT IF EXISTS teams_pkey;
ALTER TABLE IF EXISTS ONLY identity.team_members DROP CONSTRAINT IF EXISTS team_members_pkey;
ALTER TABLE IF EXISTS ONLY identity.signing_keys DROP CONSTRAINT IF EXISTS signing_keys_pkey;
ALTER TABLE IF EXISTS ONLY identity.revoked_users DROP CONSTRAINT IF EXISTS revoked_users_pkey;
ALTER TABLE IF EXISTS ONLY identity.refresh_tokens DROP CONSTRAINT IF EXISTS refresh_tokens_pkey;
ALTER TABLE IF EXISTS ONLY identity.parked_events DROP CONSTRAINT IF EXISTS parked_events_pkey;
ALTER TABLE IF EXISTS ONLY identity.parked_events DROP CONSTRAINT IF EXISTS parked_events_consumer_event_id_key;
ALTER TABLE IF EXISTS ONLY identity.outbox DROP CONSTRAINT IF EXISTS outbox_pkey;
ALTER TABLE IF EXISTS ONLY identity.outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
ALTER TABLE IF EXISTS ONLY identity.login_throttle DROP CONSTRAINT IF EXISTS login_throttle_pkey;
ALTER TABLE IF EXISTS ONLY identity.inbox DROP CONSTRAINT IF EXISTS inbox_pkey;
ALTER TABLE IF EXISTS ONLY identity.api_tokens DROP CONSTRAINT IF EXISTS api_tokens_pkey;
ALTER TABLE IF EXISTS ONLY identity.alembic_version DROP CONSTRAINT IF EXISTS alembic_version_pkc;
ALTER TABLE IF EXISTS ONLY deployer.revoked_users DROP CONSTRAINT IF EXISTS revoked_users_pkey;
ALTER TABLE IF EXISTS ONLY deployer.parked_events DROP CONSTRAINT IF EXISTS parked_events_pkey;
ALTER TABLE IF EXISTS ONLY deployer.parked_events DROP CONSTRAINT IF EXISTS parked_events_consumer_event_id_key;
ALTER TABLE IF EXISTS ONLY deployer.outbox DROP CONSTRAINT IF EXISTS outbox_pkey;
ALTER TABLE IF EXISTS ONLY deployer.outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
ALTER TABLE IF EXISTS ONLY deployer.inbox DROP CONSTRAINT IF EXISTS inbox_pkey;
ALTER TABLE IF EXISTS ONLY deployer.alembic_version DROP CONSTRAINT IF EXISTS alembic_version_pkc;
ALTER TABLE IF EXISTS ONLY audit.revoked_users DROP CONSTRAINT IF EXISTS revoked_users_pkey;
ALTER TABLE IF EXISTS ONLY audit.parked_events DROP CONSTRAINT IF EXISTS parked_events_pkey;
ALTER TABLE IF EXISTS ONLY audit.parked_events DROP CONSTRAINT IF EXISTS parked_events_consumer_event_id_key;
ALTER TABLE IF EXISTS ONLY audit.outbox DROP CONSTRAINT IF EXISTS outbox_pkey;
ALTER TABLE IF EXISTS ONLY audit.outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
ALTER TABLE IF EXISTS ONLY audit.inbox DROP CONSTRAINT IF EXISTS inbox_pkey;
ALTER TABLE IF EXISTS ONLY audit.alembic_version DROP CONSTRAINT IF EXISTS alembic_version_pkc;
ALTER TABLE IF EXISTS projects.parked_events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS projects.outbox ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS identity.parked_events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS identity.outbox ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS deployer.parked_events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS deployer.outbox ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS audit.parked_events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE IF EXISTS audit.outbox ALTER COLUMN id DROP DEFAULT;
DROP TABLE IF EXISTS projects.volumes;
DROP TABLE IF EXISTS projects.view_refreshes;
DROP TABLE IF EXISTS projects.user_roles;
DROP TABLE IF EXISTS projects.team_members;
DROP TABLE IF EXISTS projects.revoked_users;
DROP TABLE IF EXISTS projects.projects;
DROP SEQUENCE IF EXISTS projects.parked_events_id_seq;
DROP TABLE IF EXISTS projects.parked_events;
DROP SEQUENCE IF EXISTS projects.outbox_id_seq;
DROP TABLE IF EXISTS projects.outbox;
DROP TABLE IF EXISTS projects.inbox;
DROP TABLE IF EXISTS projects.git_sources;
DROP TABLE IF EXISTS projects.env_vars;
DROP TABLE IF EXISTS projects.domains;
DROP TABLE IF EXISTS projects.databases;
DROP TABLE IF EXISTS projects.certificates;
DROP MATERIALIZED VIEW IF EXISTS projects.application_stats;
DROP TABLE IF EXISTS projects.applications;
DROP TABLE IF EXISTS projects.alembic_version;
DROP TABLE IF EXISTS identity.users;
DROP TABLE IF EXISTS identity.teams;
DROP TABLE IF EXISTS identity.team_members;
DROP TABLE IF EXISTS identity.signing_keys;
DROP TABLE IF EXISTS identity.revoked_users;
DROP TABLE IF EXISTS identity.refresh_tokens;
DROP SEQUENCE IF EXISTS identity.parked_events_id_seq;
DROP TABLE IF EXISTS identity.parked_events;
DROP SEQUENCE IF EXISTS identity.outbox_id_seq;
DROP TABLE IF EXISTS identity.outbox;
DROP TABLE IF EXISTS identity.login_throttle;
DROP TABLE IF EXISTS identity.inbox;
DROP TABLE IF EXISTS identity.api_tokens;
DROP TABLE IF EXISTS identity.alembic_version;
DROP TABLE IF EXISTS deployer.revoked_users;
DROP SEQUENCE IF EXISTS deployer.parked_events_id_seq;
DROP TABLE IF EXISTS deployer.parked_events;
DROP SEQUENCE IF EXISTS deployer.outbox_id_seq;
DROP TABLE IF EXISTS deployer.outbox;
DROP TABLE IF EXISTS deployer.inbox;
DROP TABLE IF EXISTS deployer.alembic_version;
DROP TABLE IF EXISTS audit.revoked_users;
DROP SEQUENCE IF EXISTS audit.parked_events_id_seq;
DROP TABLE IF EXISTS audit.parked_events;
DROP SEQUENCE IF EXISTS audit.outbox_id_seq;
DROP TABLE IF EXISTS audit.outbox;
DROP TABLE IF EXISTS audit.inbox;
DROP TABLE IF EXISTS audit.alembic_version;
DROP FUNCTION IF EXISTS projects.soft_delete_application(app_id uuid);
DROP FUNCTION IF EXISTS projects.mirror_env_vars();
DROP FUNCTION IF EXISTS identity.team_keeps_an_owner();
DROP SCHEMA IF EXISTS projects;
DROP SCHEMA IF EXISTS identity;
DROP SCHEMA IF EXISTS deployer;
DROP SCHEMA IF EXISTS audit;
--
-- Name: audit; Type: SCHEMA; Schema: -; Owner: dockyard_audit
--

CREATE SCHEMA audit;


ALTER SCHEMA audit OWNER TO dockyard_audit;

--
-- Name: deployer; Type: SCHEMA; Schema: -; Owner: dockyard_deployer
--

CREATE SCHEMA deployer;


ALTER SCHEMA deployer OWNER TO dockyard_deployer;

--
-- Name: identity; Type: SCHEMA; Schema: -; Owner: dockyard_identity
--

CREATE SCHEMA identity;


ALTER SCHEMA identity OWNER TO dockyard_identity;

--
-- Name: projects; Type: SCHEMA; Schema: -; Owner: dockyard_projects
--

CREATE SCHEMA projects;


ALTER SCHEMA projects OWNER TO dockyard_projects;

--
-- Name: team_keeps_an_owner(); Type: FUNCTION; Schema: identity; Owner: dockyard_identity
--

CREATE FUNCTION identity.team_keeps_an_owner() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM identity.teams WHERE id = OLD.team_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- the team itself is being deleted
    END IF;
    IF NOT EXISTS (SELECT 1 FROM identity.team_members WHERE team_id = OLD.team_id AND role = 'owner') THEN
        RAISE EXCEPTION 'a team must keep at least one owner'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'team_keeps_an_owner', COLUMN = 'role';
    END IF;
    RETURN NULL;
END;
$$;


ALTER FUNCTION identity.team_keeps_an_owner() OWNER TO dockyard_identity;

--
-- Name: mirror_env_vars(); Type: FUNCTION; Schema: projects; Owner: dockyard_projects
--

CREATE FUNCTION projects.mirror_env_vars() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    app uuid := COALESCE(NEW.application_id, OLD.application_id);
BEGIN
    UPDATE projects.applications a
    SET env_vars = COALESCE(
        (SELECT jsonb_object_agg(e.key, e.value) FROM projects.env_vars e
         WHERE e.application_id = app AND NOT e.is_secret), '{}')
    WHERE a.id = app;
    RETURN NULL;
END;
$$;


ALTER FUNCTION projects.mirror_env_vars() OWNER TO dockyard_projects;

--
-- Name: soft_delete_application(uuid); Type: FUNCTION; Schema: projects; Owner: dockyard_projects
--

CREATE FUNCTION projects.soft_delete_application(app_id uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE projects.applications
    SET deleted_at = now(), status = 'archived', updated_at = now()
    WHERE id = app_id AND deleted_at IS NULL;
END;
$$;


ALTER FUNCTION projects.soft_delete_application(app_id uuid) OWNER TO dockyard_projects;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: audit; Owner: dockyard_audit
--

CREATE TABLE audit.alembic_version (
    version_num character varying(32) NOT NULL
);


ALTER TABLE audit.alembic_version OWNER TO dockyard_audit;

--
-- Name: inbox; Type: TABLE; Schema: audit; Owner: dockyard_audit
--

CREATE TABLE audit.inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE audit.inbox OWNER TO dockyard_audit;

--
-- Name: outbox; Type: TABLE; Schema: audit; Owner: dockyard_audit
--

CREATE TABLE audit.outbox (
    id bigint NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    envelope bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    published_at timestamp with time zone
);


ALTER TABLE audit.outbox OWNER TO dockyard_audit;

--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: audit; Owner: dockyard_audit
--

CREATE SEQUENCE audit.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE audit.outbox_id_seq OWNER TO dockyard_audit;

--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: audit; Owner: dockyard_audit
--

ALTER SEQUENCE audit.outbox_id_seq OWNED BY audit.outbox.id;


--
-- Name: parked_events; Type: TABLE; Schema: audit; Owner: dockyard_audit
--

CREATE TABLE audit.parked_events (
    id bigint NOT NULL,
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    deliveries integer NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone
);


ALTER TABLE audit.parked_events OWNER TO dockyard_audit;

--
-- Name: parked_events_id_seq; Type: SEQUENCE; Schema: audit; Owner: dockyard_audit
--

CREATE SEQUENCE audit.parked_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE audit.parked_events_id_seq OWNER TO dockyard_audit;

--
-- Name: parked_events_id_seq; Type: SEQUENCE OWNED BY; Schema: audit; Owner: dockyard_audit
--

ALTER SEQUENCE audit.parked_events_id_seq OWNED BY audit.parked_events.id;


--
-- Name: revoked_users; Type: TABLE; Schema: audit; Owner: dockyard_audit
--

CREATE TABLE audit.revoked_users (
    user_id uuid NOT NULL,
    reason text NOT NULL,
    revoked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_revoked_users_reason CHECK ((reason = ANY (ARRAY['disabled'::text, 'deleted'::text])))
);


ALTER TABLE audit.revoked_users OWNER TO dockyard_audit;

--
-- Name: alembic_version; Type: TABLE; Schema: deployer; Owner: dockyard_deployer
--

CREATE TABLE deployer.alembic_version (
    version_num character varying(32) NOT NULL
);


ALTER TABLE deployer.alembic_version OWNER TO dockyard_deployer;

--
-- Name: inbox; Type: TABLE; Schema: deployer; Owner: dockyard_deployer
--

CREATE TABLE deployer.inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE deployer.inbox OWNER TO dockyard_deployer;

--
-- Name: outbox; Type: TABLE; Schema: deployer; Owner: dockyard_deployer
--

CREATE TABLE deployer.outbox (
    id bigint NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    envelope bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    published_at timestamp with time zone
);


ALTER TABLE deployer.outbox OWNER TO dockyard_deployer;

--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: deployer; Owner: dockyard_deployer
--

CREATE SEQUENCE deployer.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE deployer.outbox_id_seq OWNER TO dockyard_deployer;

--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: deployer; Owner: dockyard_deployer
--

ALTER SEQUENCE deployer.outbox_id_seq OWNED BY deployer.outbox.id;


--
-- Name: parked_events; Type: TABLE; Schema: deployer; Owner: dockyard_deployer
--

CREATE TABLE deployer.parked_events (
    id bigint NOT NULL,
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    deliveries integer NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone
);


ALTER TABLE deployer.parked_events OWNER TO dockyard_deployer;

--
-- Name: parked_events_id_seq; Type: SEQUENCE; Schema: deployer; Owner: dockyard_deployer
--

CREATE SEQUENCE deployer.parked_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE deployer.parked_events_id_seq OWNER TO dockyard_deployer;

--
-- Name: parked_events_id_seq; Type: SEQUENCE OWNED BY; Schema: deployer; Owner: dockyard_deployer
--

ALTER SEQUENCE deployer.parked_events_id_seq OWNED BY deployer.parked_events.id;


--
-- Name: revoked_users; Type: TABLE; Schema: deployer; Owner: dockyard_deployer
--

CREATE TABLE deployer.revoked_users (
    user_id uuid NOT NULL,
    reason text NOT NULL,
    revoked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_revoked_users_reason CHECK ((reason = ANY (ARRAY['disabled'::text, 'deleted'::text])))
);


ALTER TABLE deployer.revoked_users OWNER TO dockyard_deployer;

--
-- Name: alembic_version; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.alembic_version (
    version_num character varying(32) NOT NULL
);


ALTER TABLE identity.alembic_version OWNER TO dockyard_identity;

--
-- Name: api_tokens; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.api_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    name character varying(100) NOT NULL,
    token_hash bytea NOT NULL,
    prefix character varying(16) NOT NULL,
    scope character varying(20) NOT NULL,
    project_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT check_api_token_name_length CHECK (((char_length((name)::text) >= 1) AND (char_length((name)::text) <= 100))),
    CONSTRAINT check_api_token_scope CHECK (((scope)::text = ANY ((ARRAY['read_only'::character varying, 'read_write'::character varying])::text[])))
);


ALTER TABLE identity.api_tokens OWNER TO dockyard_identity;

--
-- Name: inbox; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE identity.inbox OWNER TO dockyard_identity;

--
-- Name: login_throttle; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.login_throttle (
    key character varying(300) NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    window_started_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone
);


ALTER TABLE identity.login_throttle OWNER TO dockyard_identity;

--
-- Name: outbox; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.outbox (
    id bigint NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    envelope bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    published_at timestamp with time zone
);


ALTER TABLE identity.outbox OWNER TO dockyard_identity;

--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: identity; Owner: dockyard_identity
--

CREATE SEQUENCE identity.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE identity.outbox_id_seq OWNER TO dockyard_identity;

--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: identity; Owner: dockyard_identity
--

ALTER SEQUENCE identity.outbox_id_seq OWNED BY identity.outbox.id;


--
-- Name: parked_events; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.parked_events (
    id bigint NOT NULL,
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    deliveries integer NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone
);


ALTER TABLE identity.parked_events OWNER TO dockyard_identity;

--
-- Name: parked_events_id_seq; Type: SEQUENCE; Schema: identity; Owner: dockyard_identity
--

CREATE SEQUENCE identity.parked_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE identity.parked_events_id_seq OWNER TO dockyard_identity;

--
-- Name: parked_events_id_seq; Type: SEQUENCE OWNED BY; Schema: identity; Owner: dockyard_identity
--

ALTER SEQUENCE identity.parked_events_id_seq OWNED BY identity.parked_events.id;


--
-- Name: refresh_tokens; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.refresh_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    family_id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    client_ip inet,
    user_agent text
);


ALTER TABLE identity.refresh_tokens OWNER TO dockyard_identity;

--
-- Name: revoked_users; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.revoked_users (
    user_id uuid NOT NULL,
    reason text NOT NULL,
    revoked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_revoked_users_reason CHECK ((reason = ANY (ARRAY['disabled'::text, 'deleted'::text])))
);


ALTER TABLE identity.revoked_users OWNER TO dockyard_identity;

--
-- Name: signing_keys; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.signing_keys (
    kid character varying(64) NOT NULL,
    algorithm character varying(16) NOT NULL,
    private_key_encrypted bytea NOT NULL,
    master_key_id character varying(64) NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    retired_at timestamp with time zone,
    expires_at timestamp with time zone
);


ALTER TABLE identity.signing_keys OWNER TO dockyard_identity;

--
-- Name: team_members; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.team_members (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    team_id uuid NOT NULL,
    role character varying(50) NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_team_member_role CHECK (((role)::text = ANY ((ARRAY['owner'::character varying, 'admin'::character varying, 'member'::character varying, 'viewer'::character varying])::text[])))
);


ALTER TABLE identity.team_members OWNER TO dockyard_identity;

--
-- Name: teams; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.teams (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_settings_object CHECK ((jsonb_typeof(settings) = 'object'::text)),
    CONSTRAINT check_team_name_length CHECK (((char_length((name)::text) >= 3) AND (char_length((name)::text) <= 100)))
);


ALTER TABLE identity.teams OWNER TO dockyard_identity;

--
-- Name: users; Type: TABLE; Schema: identity; Owner: dockyard_identity
--

CREATE TABLE identity.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    username character varying(255) NOT NULL,
    email character varying(255) NOT NULL,
    password_hash character varying(255),
    role character varying(50) DEFAULT 'developer'::character varying NOT NULL,
    preferences jsonb DEFAULT '{}'::jsonb NOT NULL,
    disabled_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_email_format CHECK (((email)::text ~ '^[^@]+@[^@]+\.[^@]+$'::text)),
    CONSTRAINT check_preferences_object CHECK ((jsonb_typeof(preferences) = 'object'::text)),
    CONSTRAINT check_user_role CHECK (((role)::text = ANY ((ARRAY['super_admin'::character varying, 'admin'::character varying, 'developer'::character varying, 'viewer'::character varying])::text[]))),
    CONSTRAINT check_username_format CHECK (((username)::text ~ '^[a-z0-9_-]{3,50}$'::text))
);


ALTER TABLE identity.users OWNER TO dockyard_identity;

--
-- Name: alembic_version; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.alembic_version (
    version_num character varying(32) NOT NULL
);


ALTER TABLE projects.alembic_version OWNER TO dockyard_projects;

--
-- Name: applications; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.applications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    name character varying(255) NOT NULL,
    type character varying(50) NOT NULL,
    status character varying(50) DEFAULT 'stopped'::character varying NOT NULL,
    source_type character varying(50) NOT NULL,
    source_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    docker_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    env_vars jsonb DEFAULT '{}'::jsonb NOT NULL,
    replicas integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    CONSTRAINT check_app_archived CHECK ((((status)::text = 'archived'::text) = (deleted_at IS NOT NULL))),
    CONSTRAINT check_app_docker_config_object CHECK ((jsonb_typeof(docker_config) = 'object'::text)),
    CONSTRAINT check_app_env_vars_object CHECK ((jsonb_typeof(env_vars) = 'object'::text)),
    CONSTRAINT check_app_name_format CHECK (((name)::text ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'::text)),
    CONSTRAINT check_app_source_config_object CHECK ((jsonb_typeof(source_config) = 'object'::text)),
    CONSTRAINT check_app_source_type CHECK (((source_type)::text = ANY ((ARRAY['github'::character varying, 'gitlab'::character varying, 'bitbucket'::character varying, 'gitea'::character varying, 'docker'::character varying, 'docker_compose'::character varying])::text[]))),
    CONSTRAINT check_app_status CHECK (((status)::text = ANY ((ARRAY['stopped'::character varying, 'deploying'::character varying, 'running'::character varying, 'failed'::character varying, 'scaling'::character varying, 'archived'::character varying])::text[]))),
    CONSTRAINT check_app_type CHECK (((type)::text = ANY ((ARRAY['docker'::character varying, 'git'::character varying, 'compose'::character varying])::text[]))),
    CONSTRAINT check_replicas_non_negative CHECK ((replicas >= 0))
);


ALTER TABLE projects.applications OWNER TO dockyard_projects;

--
-- Name: application_stats; Type: MATERIALIZED VIEW; Schema: projects; Owner: dockyard_projects
--

CREATE MATERIALIZED VIEW projects.application_stats AS
 SELECT project_id,
    count(*) AS total_applications,
    count(*) FILTER (WHERE ((status)::text = 'running'::text)) AS running,
    count(*) FILTER (WHERE ((status)::text = 'stopped'::text)) AS stopped,
    count(*) FILTER (WHERE ((status)::text = 'failed'::text)) AS failed
   FROM projects.applications
  WHERE (deleted_at IS NULL)
  GROUP BY project_id
  WITH NO DATA;


ALTER MATERIALIZED VIEW projects.application_stats OWNER TO dockyard_projects;

--
-- Name: certificates; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.certificates (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    domain_id uuid NOT NULL,
    issuer character varying(255) NOT NULL,
    certificate text NOT NULL,
    private_key text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_expiry_future CHECK ((expires_at > now()))
);


ALTER TABLE projects.certificates OWNER TO dockyard_projects;

--
-- Name: databases; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.databases (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    name character varying(255) NOT NULL,
    type character varying(50) NOT NULL,
    status character varying(50) DEFAULT 'initializing'::character varying NOT NULL,
    version character varying(50) NOT NULL,
    config jsonb DEFAULT '{}'::jsonb NOT NULL,
    username character varying(63) NOT NULL,
    connection_string text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_database_name_format CHECK (((name)::text ~ '^[a-z][a-z0-9_-]{0,62}$'::text)),
    CONSTRAINT check_db_config_object CHECK ((jsonb_typeof(config) = 'object'::text)),
    CONSTRAINT check_db_status CHECK (((status)::text = ANY ((ARRAY['initializing'::character varying, 'running'::character varying, 'stopped'::character varying, 'failed'::character varying])::text[]))),
    CONSTRAINT check_db_type CHECK (((type)::text = ANY ((ARRAY['postgresql'::character varying, 'mysql'::character varying, 'mongodb'::character varying, 'redis'::character varying])::text[]))),
    CONSTRAINT check_db_version_format CHECK (((version)::text ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$'::text))
);


ALTER TABLE projects.databases OWNER TO dockyard_projects;

--
-- Name: domains; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.domains (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    domain character varying(255) NOT NULL,
    target_type character varying(50) NOT NULL,
    target_id uuid NOT NULL,
    tls_enabled boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_domain_format CHECK (((char_length((domain)::text) <= 253) AND ((domain)::text ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'::text))),
    CONSTRAINT check_domain_target_type CHECK (((target_type)::text = ANY ((ARRAY['application'::character varying, 'database'::character varying])::text[])))
);


ALTER TABLE projects.domains OWNER TO dockyard_projects;

--
-- Name: env_vars; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.env_vars (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    application_id uuid NOT NULL,
    key character varying(255) NOT NULL,
    value text NOT NULL,
    is_secret boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_env_var_key_format CHECK (((key)::text ~ '^[A-Z_][A-Z0-9_]*$'::text))
);


ALTER TABLE projects.env_vars OWNER TO dockyard_projects;

--
-- Name: git_sources; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.git_sources (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    application_id uuid NOT NULL,
    provider character varying(50) NOT NULL,
    repository character varying(500) NOT NULL,
    branch character varying(255) DEFAULT 'main'::character varying NOT NULL,
    commit_sha character varying(40),
    webhook_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    webhook_secret text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_git_branch_length CHECK (((char_length((branch)::text) >= 1) AND (char_length((branch)::text) <= 255))),
    CONSTRAINT check_git_commit_sha CHECK (((commit_sha)::text ~ '^[0-9a-f]{7,40}$'::text)),
    CONSTRAINT check_git_provider CHECK (((provider)::text = ANY ((ARRAY['github'::character varying, 'gitlab'::character varying, 'bitbucket'::character varying, 'gitea'::character varying])::text[]))),
    CONSTRAINT check_git_repository_format CHECK (((repository)::text ~ '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$'::text)),
    CONSTRAINT check_git_webhook_config_object CHECK ((jsonb_typeof(webhook_config) = 'object'::text))
);


ALTER TABLE projects.git_sources OWNER TO dockyard_projects;

--
-- Name: inbox; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE projects.inbox OWNER TO dockyard_projects;

--
-- Name: outbox; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.outbox (
    id bigint NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    envelope bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    published_at timestamp with time zone
);


ALTER TABLE projects.outbox OWNER TO dockyard_projects;

--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: projects; Owner: dockyard_projects
--

CREATE SEQUENCE projects.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE projects.outbox_id_seq OWNER TO dockyard_projects;

--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: projects; Owner: dockyard_projects
--

ALTER SEQUENCE projects.outbox_id_seq OWNED BY projects.outbox.id;


--
-- Name: parked_events; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.parked_events (
    id bigint NOT NULL,
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    subject text NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    deliveries integer NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone
);


ALTER TABLE projects.parked_events OWNER TO dockyard_projects;

--
-- Name: parked_events_id_seq; Type: SEQUENCE; Schema: projects; Owner: dockyard_projects
--

CREATE SEQUENCE projects.parked_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER SEQUENCE projects.parked_events_id_seq OWNER TO dockyard_projects;

--
-- Name: parked_events_id_seq; Type: SEQUENCE OWNED BY; Schema: projects; Owner: dockyard_projects
--

ALTER SEQUENCE projects.parked_events_id_seq OWNED BY projects.parked_events.id;


--
-- Name: projects; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.projects (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    owner_id uuid NOT NULL,
    team_id uuid,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_project_metadata_object CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT check_project_name_length CHECK (((char_length((name)::text) >= 3) AND (char_length((name)::text) <= 100)))
);

ALTER TABLE ONLY projects.projects FORCE ROW LEVEL SECURITY;


ALTER TABLE projects.projects OWNER TO dockyard_projects;

--
-- Name: revoked_users; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.revoked_users (
    user_id uuid NOT NULL,
    reason text NOT NULL,
    revoked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_revoked_users_reason CHECK ((reason = ANY (ARRAY['disabled'::text, 'deleted'::text])))
);


ALTER TABLE projects.revoked_users OWNER TO dockyard_projects;

--
-- Name: team_members; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.team_members (
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    role character varying(50) NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_team_member_role CHECK (((role)::text = ANY ((ARRAY['owner'::character varying, 'admin'::character varying, 'member'::character varying, 'viewer'::character varying])::text[])))
);


ALTER TABLE projects.team_members OWNER TO dockyard_projects;

--
-- Name: user_roles; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.user_roles (
    user_id uuid NOT NULL,
    role character varying(50) NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_user_role CHECK (((role)::text = ANY ((ARRAY['super_admin'::character varying, 'admin'::character varying, 'developer'::character varying, 'viewer'::character varying])::text[])))
);


ALTER TABLE projects.user_roles OWNER TO dockyard_projects;

--
-- Name: view_refreshes; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.view_refreshes (
    view_name character varying(100) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);


ALTER TABLE projects.view_refreshes OWNER TO dockyard_projects;

--
-- Name: volumes; Type: TABLE; Schema: projects; Owner: dockyard_projects
--

CREATE TABLE projects.volumes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    name character varying(255) NOT NULL,
    type character varying(50) DEFAULT 'docker_volume'::character varying NOT NULL,
    mount_path character varying(500) NOT NULL,
    size_gb integer NOT NULL,
    application_id uuid,
    database_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT check_size_positive CHECK ((size_gb > 0)),
    CONSTRAINT check_volume_mount_path CHECK (((mount_path)::text ~ '^/[^\s]*$'::text)),
    CONSTRAINT check_volume_name_format CHECK (((name)::text ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$'::text)),
    CONSTRAINT check_volume_single_mount CHECK (((application_id IS NULL) OR (database_id IS NULL))),
    CONSTRAINT check_volume_type CHECK (((type)::text = ANY ((ARRAY['docker_volume'::character varying, 'nfs'::character varying, 's3'::character varying])::text[])))
);


ALTER TABLE projects.volumes OWNER TO dockyard_projects;

--
-- Name: outbox id; Type: DEFAULT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.outbox ALTER COLUMN id SET DEFAULT nextval('audit.outbox_id_seq'::regclass);


--
-- Name: parked_events id; Type: DEFAULT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.parked_events ALTER COLUMN id SET DEFAULT nextval('audit.parked_events_id_seq'::regclass);


--
-- Name: outbox id; Type: DEFAULT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.outbox ALTER COLUMN id SET DEFAULT nextval('deployer.outbox_id_seq'::regclass);


--
-- Name: parked_events id; Type: DEFAULT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.parked_events ALTER COLUMN id SET DEFAULT nextval('deployer.parked_events_id_seq'::regclass);


--
-- Name: outbox id; Type: DEFAULT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.outbox ALTER COLUMN id SET DEFAULT nextval('identity.outbox_id_seq'::regclass);


--
-- Name: parked_events id; Type: DEFAULT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.parked_events ALTER COLUMN id SET DEFAULT nextval('identity.parked_events_id_seq'::regclass);


--
-- Name: outbox id; Type: DEFAULT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.outbox ALTER COLUMN id SET DEFAULT nextval('projects.outbox_id_seq'::regclass);


--
-- Name: parked_events id; Type: DEFAULT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.parked_events ALTER COLUMN id SET DEFAULT nextval('projects.parked_events_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: audit; Owner: dockyard_audit
--

COPY audit.alembic_version (version_num) FROM stdin;
0002_revoked_users
\.


--
-- Data for Name: inbox; Type: TABLE DATA; Schema: audit; Owner: dockyard_audit
--

COPY audit.inbox (consumer, event_id, processed_at) FROM stdin;
revocations	20000000-0000-4000-8000-000000000001	2026-12-02 01:05:22.832969+00
\.


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: audit; Owner: dockyard_audit
--

COPY audit.outbox (id, event_id, subject, resource_type, resource_id, envelope, created_at, published_at) FROM stdin;
1	10000000-0000-4000-8000-000000000001	dockyard.audit.thing.created	thing	t1	\\x0a0b	2026-12-02 01:05:22.829729+00	2026-12-02 01:05:22.829729+00
2	10000000-0000-4000-8000-000000000002	dockyard.audit.thing.updated	thing	t1	\\x0a0c	2026-12-02 01:05:22.829729+00	\N
\.


--
-- Data for Name: parked_events; Type: TABLE DATA; Schema: audit; Owner: dockyard_audit
--

COPY audit.parked_events (id, consumer, event_id, subject, payload, error, deliveries, parked_at, replayed_at) FROM stdin;
1	revocations	20000000-0000-4000-8000-000000000002	dockyard.identity.user.deleted	\\x00	ValueError: bad event	5	2026-12-02 01:05:22.834357+00	\N
\.


--
-- Data for Name: revoked_users; Type: TABLE DATA; Schema: audit; Owner: dockyard_audit
--

COPY audit.revoked_users (user_id, reason, revoked_at) FROM stdin;
00000000-0000-4000-8000-000000000002	disabled	2026-12-02 01:05:22.837827+00
\.


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: deployer; Owner: dockyard_deployer
--

COPY deployer.alembic_version (version_num) FROM stdin;
0002_revoked_users
\.


--
-- Data for Name: inbox; Type: TABLE DATA; Schema: deployer; Owner: dockyard_deployer
--

COPY deployer.inbox (consumer, event_id, processed_at) FROM stdin;
revocations	20000000-0000-4000-8000-000000000001	2026-12-02 01:05:22.819508+00
\.


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: deployer; Owner: dockyard_deployer
--

COPY deployer.outbox (id, event_id, subject, resource_type, resource_id, envelope, created_at, published_at) FROM stdin;
1	10000000-0000-4000-8000-000000000001	dockyard.deployer.thing.created	thing	t1	\\x0a0b	2026-12-02 01:05:22.81845+00	2026-12-02 01:05:22.81845+00
2	10000000-0000-4000-8000-000000000002	dockyard.deployer.thing.updated	thing	t1	\\x0a0c	2026-12-02 01:05:22.81845+00	\N
\.


--
-- Data for Name: parked_events; Type: TABLE DATA; Schema: deployer; Owner: dockyard_deployer
--

COPY deployer.parked_events (id, consumer, event_id, subject, payload, error, deliveries, parked_at, replayed_at) FROM stdin;
1	revocations	20000000-0000-4000-8000-000000000002	dockyard.identity.user.deleted	\\x00	ValueError: bad event	5	2026-12-02 01:05:22.826446+00	\N
\.


--
-- Data for Name: revoked_users; Type: TABLE DATA; Schema: deployer; Owner: dockyard_deployer
--

COPY deployer.revoked_users (user_id, reason, revoked_at) FROM stdin;
00000000-0000-4000-8000-000000000002	disabled	2026-12-02 01:05:22.828881+00
\.


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.alembic_version (version_num) FROM stdin;
0005_api_token_names_reusable
\.


--
-- Data for Name: api_tokens; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.api_tokens (id, user_id, name, token_hash, prefix, scope, project_ids, expires_at, created_at, last_used_at, revoked_at) FROM stdin;
3cd19232-b7d9-4f70-a4cc-67bfb83e01f0	00000000-0000-4000-8000-000000000001	ci	\\x01	dk_aaaa	read_only	{}	2030-01-01 00:00:00+00	2026-12-02 01:05:22.787635+00	\N	2026-12-02 01:05:22.787635+00
e7ad78cf-4749-408e-a7ca-0c1ca62653d4	00000000-0000-4000-8000-000000000001	ci	\\x02	dk_bbbb	read_write	{}	2030-01-01 00:00:00+00	2026-12-02 01:05:22.787635+00	\N	\N
\.


--
-- Data for Name: inbox; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.inbox (consumer, event_id, processed_at) FROM stdin;
revocations	20000000-0000-4000-8000-000000000001	2026-12-02 01:05:22.794149+00
\.


--
-- Data for Name: login_throttle; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.login_throttle (key, failures, window_started_at, locked_until) FROM stdin;
\.


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.outbox (id, event_id, subject, resource_type, resource_id, envelope, created_at, published_at) FROM stdin;
1	10000000-0000-4000-8000-000000000001	dockyard.identity.thing.created	thing	t1	\\x0a0b	2026-12-02 01:05:22.790979+00	2026-12-02 01:05:22.790979+00
2	10000000-0000-4000-8000-000000000002	dockyard.identity.thing.updated	thing	t1	\\x0a0c	2026-12-02 01:05:22.790979+00	\N
\.


--
-- Data for Name: parked_events; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.parked_events (id, consumer, event_id, subject, payload, error, deliveries, parked_at, replayed_at) FROM stdin;
1	revocations	20000000-0000-4000-8000-000000000002	dockyard.identity.user.deleted	\\x00	ValueError: bad event	5	2026-12-02 01:05:22.794892+00	\N
\.


--
-- Data for Name: refresh_tokens; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at, used_at, revoked_at, client_ip, user_agent) FROM stdin;
\.


--
-- Data for Name: revoked_users; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.revoked_users (user_id, reason, revoked_at) FROM stdin;
00000000-0000-4000-8000-000000000002	disabled	2026-12-02 01:05:22.795514+00
\.


--
-- Data for Name: signing_keys; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.signing_keys (kid, algorithm, private_key_encrypted, master_key_id, public_jwk, created_at, retired_at, expires_at) FROM stdin;
\.


--
-- Data for Name: team_members; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.team_members (id, user_id, team_id, role, joined_at) FROM stdin;
1971c09f-fd28-4dcf-9a73-9b9398c47b12	00000000-0000-4000-8000-000000000001	00000000-0000-4000-8000-0000000000a1	owner	2026-12-02 01:05:22.785484+00
\.


--
-- Data for Name: teams; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.teams (id, name, description, settings, created_at, updated_at) FROM stdin;
00000000-0000-4000-8000-0000000000a1	platform	the platform team	{}	2026-12-02 01:05:22.782539+00	2026-12-02 01:05:22.782539+00
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: identity; Owner: dockyard_identity
--

COPY identity.users (id, username, email, password_hash, role, preferences, disabled_at, created_at, updated_at) FROM stdin;
00000000-0000-4000-8000-000000000001	alice	Alice@Example.com	$2b$12$abcdefghijklmnopqrstuu	admin	{}	\N	2026-12-02 01:05:22.779977+00	2026-12-02 01:05:22.779977+00
00000000-0000-4000-8000-000000000002	bob	bob@example.com	\N	developer	{}	\N	2026-12-02 01:05:22.779977+00	2026-12-02 01:05:22.779977+00
\.


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.alembic_version (version_num) FROM stdin;
0003_projects_model
\.


--
-- Data for Name: applications; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.applications (id, project_id, name, type, status, source_type, source_config, docker_config, env_vars, replicas, created_at, updated_at, deleted_at) FROM stdin;
8671be10-d49b-4c7d-bb14-bcc0b6214ca1	00000000-0000-4000-8000-0000000000c1	web	docker	stopped	docker	{}	{}	{}	1	2026-12-02 01:05:22.802404+00	2026-12-02 01:05:22.802404+00	\N
\.


--
-- Data for Name: certificates; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.certificates (id, domain_id, issuer, certificate, private_key, expires_at, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: databases; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.databases (id, project_id, name, type, status, version, config, username, connection_string, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: domains; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.domains (id, project_id, domain, target_type, target_id, tls_enabled, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: env_vars; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.env_vars (id, application_id, key, value, is_secret, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: git_sources; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.git_sources (id, application_id, provider, repository, branch, commit_sha, webhook_config, webhook_secret, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: inbox; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.inbox (consumer, event_id, processed_at) FROM stdin;
revocations	20000000-0000-4000-8000-000000000001	2026-12-02 01:05:22.806205+00
\.


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.outbox (id, event_id, subject, resource_type, resource_id, envelope, created_at, published_at) FROM stdin;
1	10000000-0000-4000-8000-000000000001	dockyard.projects.thing.created	thing	t1	\\x0a0b	2026-12-02 01:05:22.804145+00	2026-12-02 01:05:22.804145+00
2	10000000-0000-4000-8000-000000000002	dockyard.projects.thing.updated	thing	t1	\\x0a0c	2026-12-02 01:05:22.804145+00	\N
\.


--
-- Data for Name: parked_events; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.parked_events (id, consumer, event_id, subject, payload, error, deliveries, parked_at, replayed_at) FROM stdin;
1	revocations	20000000-0000-4000-8000-000000000002	dockyard.identity.user.deleted	\\x00	ValueError: bad event	5	2026-12-02 01:05:22.810213+00	\N
\.


--
-- Data for Name: projects; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.projects (id, name, description, owner_id, team_id, metadata, created_at, updated_at) FROM stdin;
00000000-0000-4000-8000-0000000000c1	shop		00000000-0000-4000-8000-000000000001	00000000-0000-4000-8000-0000000000a1	{}	2026-12-02 01:05:22.797354+00	2026-12-02 01:05:22.797354+00
\.


--
-- Data for Name: revoked_users; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.revoked_users (user_id, reason, revoked_at) FROM stdin;
00000000-0000-4000-8000-000000000002	disabled	2026-12-02 01:05:22.814507+00
\.


--
-- Data for Name: team_members; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.team_members (team_id, user_id, membership_id, role, updated_at) FROM stdin;
00000000-0000-4000-8000-0000000000a1	00000000-0000-4000-8000-000000000001	00000000-0000-4000-8000-0000000000b1	owner	2026-12-02 01:05:22.796511+00
\.


--
-- Data for Name: user_roles; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.user_roles (user_id, role, updated_at) FROM stdin;
00000000-0000-4000-8000-000000000001	admin	2026-12-02 01:05:22.796+00
\.


--
-- Data for Name: view_refreshes; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.view_refreshes (view_name, refreshed_at) FROM stdin;
application_stats	2026-12-02 01:05:22.195493+00
\.


--
-- Data for Name: volumes; Type: TABLE DATA; Schema: projects; Owner: dockyard_projects
--

COPY projects.volumes (id, project_id, name, type, mount_path, size_gb, application_id, database_id, created_at, updated_at) FROM stdin;
\.


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: audit; Owner: dockyard_audit
--

SELECT pg_catalog.setval('audit.outbox_id_seq', 2, true);


--
-- Name: parked_events_id_seq; Type: SEQUENCE SET; Schema: audit; Owner: dockyard_audit
--

SELECT pg_catalog.setval('audit.parked_events_id_seq', 1, true);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: deployer; Owner: dockyard_deployer
--

SELECT pg_catalog.setval('deployer.outbox_id_seq', 2, true);


--
-- Name: parked_events_id_seq; Type: SEQUENCE SET; Schema: deployer; Owner: dockyard_deployer
--

SELECT pg_catalog.setval('deployer.parked_events_id_seq', 1, true);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: identity; Owner: dockyard_identity
--

SELECT pg_catalog.setval('identity.outbox_id_seq', 2, true);


--
-- Name: parked_events_id_seq; Type: SEQUENCE SET; Schema: identity; Owner: dockyard_identity
--

SELECT pg_catalog.setval('identity.parked_events_id_seq', 1, true);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: projects; Owner: dockyard_projects
--

SELECT pg_catalog.setval('projects.outbox_id_seq', 2, true);


--
-- Name: parked_events_id_seq; Type: SEQUENCE SET; Schema: projects; Owner: dockyard_projects
--

SELECT pg_catalog.setval('projects.parked_events_id_seq', 1, true);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: inbox inbox_pkey; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (consumer, event_id);


--
-- Name: outbox outbox_event_id_key; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.outbox
    ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: parked_events parked_events_consumer_event_id_key; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.parked_events
    ADD CONSTRAINT parked_events_consumer_event_id_key UNIQUE (consumer, event_id);


--
-- Name: parked_events parked_events_pkey; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.parked_events
    ADD CONSTRAINT parked_events_pkey PRIMARY KEY (id);


--
-- Name: revoked_users revoked_users_pkey; Type: CONSTRAINT; Schema: audit; Owner: dockyard_audit
--

ALTER TABLE ONLY audit.revoked_users
    ADD CONSTRAINT revoked_users_pkey PRIMARY KEY (user_id);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: inbox inbox_pkey; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (consumer, event_id);


--
-- Name: outbox outbox_event_id_key; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.outbox
    ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: parked_events parked_events_consumer_event_id_key; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.parked_events
    ADD CONSTRAINT parked_events_consumer_event_id_key UNIQUE (consumer, event_id);


--
-- Name: parked_events parked_events_pkey; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.parked_events
    ADD CONSTRAINT parked_events_pkey PRIMARY KEY (id);


--
-- Name: revoked_users revoked_users_pkey; Type: CONSTRAINT; Schema: deployer; Owner: dockyard_deployer
--

ALTER TABLE ONLY deployer.revoked_users
    ADD CONSTRAINT revoked_users_pkey PRIMARY KEY (user_id);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: api_tokens api_tokens_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.api_tokens
    ADD CONSTRAINT api_tokens_pkey PRIMARY KEY (id);


--
-- Name: inbox inbox_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (consumer, event_id);


--
-- Name: login_throttle login_throttle_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.login_throttle
    ADD CONSTRAINT login_throttle_pkey PRIMARY KEY (key);


--
-- Name: outbox outbox_event_id_key; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.outbox
    ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: parked_events parked_events_consumer_event_id_key; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.parked_events
    ADD CONSTRAINT parked_events_consumer_event_id_key UNIQUE (consumer, event_id);


--
-- Name: parked_events parked_events_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.parked_events
    ADD CONSTRAINT parked_events_pkey PRIMARY KEY (id);


--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);


--
-- Name: revoked_users revoked_users_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.revoked_users
    ADD CONSTRAINT revoked_users_pkey PRIMARY KEY (user_id);


--
-- Name: signing_keys signing_keys_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (kid);


--
-- Name: team_members team_members_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.team_members
    ADD CONSTRAINT team_members_pkey PRIMARY KEY (id);


--
-- Name: teams teams_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.teams
    ADD CONSTRAINT teams_pkey PRIMARY KEY (id);


--
-- Name: api_tokens uq_api_tokens_hash; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.api_tokens
    ADD CONSTRAINT uq_api_tokens_hash UNIQUE (token_hash);


--
-- Name: refresh_tokens uq_refresh_tokens_hash; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.refresh_tokens
    ADD CONSTRAINT uq_refresh_tokens_hash UNIQUE (token_hash);


--
-- Name: team_members uq_team_members_user_team; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.team_members
    ADD CONSTRAINT uq_team_members_user_team UNIQUE (user_id, team_id);


--
-- Name: teams uq_teams_name; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.teams
    ADD CONSTRAINT uq_teams_name UNIQUE (name);


--
-- Name: users uq_users_email; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.users
    ADD CONSTRAINT uq_users_email UNIQUE (email);


--
-- Name: users uq_users_username; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.users
    ADD CONSTRAINT uq_users_username UNIQUE (username);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: applications applications_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.applications
    ADD CONSTRAINT applications_pkey PRIMARY KEY (id);


--
-- Name: certificates certificates_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.certificates
    ADD CONSTRAINT certificates_pkey PRIMARY KEY (id);


--
-- Name: databases databases_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.databases
    ADD CONSTRAINT databases_pkey PRIMARY KEY (id);


--
-- Name: domains domains_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.domains
    ADD CONSTRAINT domains_pkey PRIMARY KEY (id);


--
-- Name: env_vars env_vars_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.env_vars
    ADD CONSTRAINT env_vars_pkey PRIMARY KEY (id);


--
-- Name: git_sources git_sources_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.git_sources
    ADD CONSTRAINT git_sources_pkey PRIMARY KEY (id);


--
-- Name: inbox inbox_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (consumer, event_id);


--
-- Name: outbox outbox_event_id_key; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.outbox
    ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: parked_events parked_events_consumer_event_id_key; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.parked_events
    ADD CONSTRAINT parked_events_consumer_event_id_key UNIQUE (consumer, event_id);


--
-- Name: parked_events parked_events_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.parked_events
    ADD CONSTRAINT parked_events_pkey PRIMARY KEY (id);


--
-- Name: projects projects_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.projects
    ADD CONSTRAINT projects_pkey PRIMARY KEY (id);


--
-- Name: revoked_users revoked_users_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.revoked_users
    ADD CONSTRAINT revoked_users_pkey PRIMARY KEY (user_id);


--
-- Name: team_members team_members_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.team_members
    ADD CONSTRAINT team_members_pkey PRIMARY KEY (team_id, user_id);


--
-- Name: applications uq_applications_project_name; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.applications
    ADD CONSTRAINT uq_applications_project_name UNIQUE (project_id, name);


--
-- Name: databases uq_databases_project_name; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.databases
    ADD CONSTRAINT uq_databases_project_name UNIQUE (project_id, name);


--
-- Name: domains uq_domains_domain; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.domains
    ADD CONSTRAINT uq_domains_domain UNIQUE (domain);


--
-- Name: env_vars uq_env_vars_application_key; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.env_vars
    ADD CONSTRAINT uq_env_vars_application_key UNIQUE (application_id, key);


--
-- Name: git_sources uq_git_sources_application_id; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.git_sources
    ADD CONSTRAINT uq_git_sources_application_id UNIQUE (application_id);


--
-- Name: projects uq_projects_owner_name; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.projects
    ADD CONSTRAINT uq_projects_owner_name UNIQUE (owner_id, name);


--
-- Name: volumes uq_volumes_name; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.volumes
    ADD CONSTRAINT uq_volumes_name UNIQUE (name);


--
-- Name: user_roles user_roles_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.user_roles
    ADD CONSTRAINT user_roles_pkey PRIMARY KEY (user_id);


--
-- Name: view_refreshes view_refreshes_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.view_refreshes
    ADD CONSTRAINT view_refreshes_pkey PRIMARY KEY (view_name);


--
-- Name: volumes volumes_pkey; Type: CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.volumes
    ADD CONSTRAINT volumes_pkey PRIMARY KEY (id);


--
-- Name: outbox_unpublished_idx; Type: INDEX; Schema: audit; Owner: dockyard_audit
--

CREATE INDEX outbox_unpublished_idx ON audit.outbox USING btree (id) WHERE (published_at IS NULL);


--
-- Name: outbox_unpublished_idx; Type: INDEX; Schema: deployer; Owner: dockyard_deployer
--

CREATE INDEX outbox_unpublished_idx ON deployer.outbox USING btree (id) WHERE (published_at IS NULL);


--
-- Name: ix_api_tokens_user; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_api_tokens_user ON identity.api_tokens USING btree (user_id);


--
-- Name: ix_refresh_tokens_family; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_refresh_tokens_family ON identity.refresh_tokens USING btree (family_id);


--
-- Name: ix_refresh_tokens_user; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_refresh_tokens_user ON identity.refresh_tokens USING btree (user_id);


--
-- Name: ix_team_members_team_id; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_team_members_team_id ON identity.team_members USING btree (team_id);


--
-- Name: ix_users_email_prefix; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_users_email_prefix ON identity.users USING btree (lower((email)::text) text_pattern_ops);


--
-- Name: ix_users_role; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_users_role ON identity.users USING btree (role);


--
-- Name: ix_users_username_prefix; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX ix_users_username_prefix ON identity.users USING btree (username text_pattern_ops);


--
-- Name: outbox_unpublished_idx; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE INDEX outbox_unpublished_idx ON identity.outbox USING btree (id) WHERE (published_at IS NULL);


--
-- Name: uq_api_tokens_user_live_name; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE UNIQUE INDEX uq_api_tokens_user_live_name ON identity.api_tokens USING btree (user_id, name) WHERE (revoked_at IS NULL);


--
-- Name: uq_users_email_lower; Type: INDEX; Schema: identity; Owner: dockyard_identity
--

CREATE UNIQUE INDEX uq_users_email_lower ON identity.users USING btree (lower((email)::text));


--
-- Name: idx_applications_active; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX idx_applications_active ON projects.applications USING btree (id) WHERE (deleted_at IS NULL);


--
-- Name: ix_applications_docker_config; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_applications_docker_config ON projects.applications USING gin (docker_config);


--
-- Name: ix_applications_env_vars; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_applications_env_vars ON projects.applications USING gin (env_vars);


--
-- Name: ix_applications_project_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_applications_project_id ON projects.applications USING btree (project_id);


--
-- Name: ix_applications_project_live; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_applications_project_live ON projects.applications USING btree (project_id, created_at DESC, id DESC) WHERE (deleted_at IS NULL);


--
-- Name: ix_applications_status; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_applications_status ON projects.applications USING btree (status);


--
-- Name: ix_certificates_domain_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_certificates_domain_id ON projects.certificates USING btree (domain_id);


--
-- Name: ix_certificates_expires_at; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_certificates_expires_at ON projects.certificates USING btree (expires_at);


--
-- Name: ix_databases_project_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_databases_project_id ON projects.databases USING btree (project_id);


--
-- Name: ix_databases_project_newest; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_databases_project_newest ON projects.databases USING btree (project_id, created_at DESC, id DESC);


--
-- Name: ix_databases_type; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_databases_type ON projects.databases USING btree (type);


--
-- Name: ix_domains_project_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_domains_project_id ON projects.domains USING btree (project_id);


--
-- Name: ix_domains_target; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_domains_target ON projects.domains USING btree (target_type, target_id);


--
-- Name: ix_env_vars_application_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_env_vars_application_id ON projects.env_vars USING btree (application_id);


--
-- Name: ix_projects_metadata; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_projects_metadata ON projects.projects USING gin (metadata);


--
-- Name: ix_projects_newest; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_projects_newest ON projects.projects USING btree (created_at DESC, id DESC);


--
-- Name: ix_projects_owner_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_projects_owner_id ON projects.projects USING btree (owner_id);


--
-- Name: ix_projects_team_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_projects_team_id ON projects.projects USING btree (team_id);


--
-- Name: ix_team_members_user_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_team_members_user_id ON projects.team_members USING btree (user_id);


--
-- Name: ix_volumes_application_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_volumes_application_id ON projects.volumes USING btree (application_id);


--
-- Name: ix_volumes_database_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_volumes_database_id ON projects.volumes USING btree (database_id);


--
-- Name: ix_volumes_project_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX ix_volumes_project_id ON projects.volumes USING btree (project_id);


--
-- Name: outbox_unpublished_idx; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE INDEX outbox_unpublished_idx ON projects.outbox USING btree (id) WHERE (published_at IS NULL);


--
-- Name: uq_application_stats_project_id; Type: INDEX; Schema: projects; Owner: dockyard_projects
--

CREATE UNIQUE INDEX uq_application_stats_project_id ON projects.application_stats USING btree (project_id);


--
-- Name: team_members team_keeps_an_owner; Type: TRIGGER; Schema: identity; Owner: dockyard_identity
--

CREATE TRIGGER team_keeps_an_owner AFTER DELETE OR UPDATE OF role ON identity.team_members FOR EACH ROW EXECUTE FUNCTION identity.team_keeps_an_owner();


--
-- Name: env_vars mirror_env_vars; Type: TRIGGER; Schema: projects; Owner: dockyard_projects
--

CREATE TRIGGER mirror_env_vars AFTER INSERT OR DELETE OR UPDATE ON projects.env_vars FOR EACH ROW EXECUTE FUNCTION projects.mirror_env_vars();


--
-- Name: api_tokens api_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.api_tokens
    ADD CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES identity.users(id) ON DELETE CASCADE;


--
-- Name: refresh_tokens refresh_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.refresh_tokens
    ADD CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES identity.users(id) ON DELETE CASCADE;


--
-- Name: team_members team_members_team_id_fkey; Type: FK CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.team_members
    ADD CONSTRAINT team_members_team_id_fkey FOREIGN KEY (team_id) REFERENCES identity.teams(id) ON DELETE CASCADE;


--
-- Name: team_members team_members_user_id_fkey; Type: FK CONSTRAINT; Schema: identity; Owner: dockyard_identity
--

ALTER TABLE ONLY identity.team_members
    ADD CONSTRAINT team_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES identity.users(id) ON DELETE CASCADE;


--
-- Name: applications applications_project_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.applications
    ADD CONSTRAINT applications_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects.projects(id) ON DELETE CASCADE;


--
-- Name: certificates certificates_domain_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.certificates
    ADD CONSTRAINT certificates_domain_id_fkey FOREIGN KEY (domain_id) REFERENCES projects.domains(id) ON DELETE CASCADE;


--
-- Name: databases databases_project_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.databases
    ADD CONSTRAINT databases_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects.projects(id) ON DELETE CASCADE;


--
-- Name: domains domains_project_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.domains
    ADD CONSTRAINT domains_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects.projects(id) ON DELETE CASCADE;


--
-- Name: env_vars env_vars_application_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.env_vars
    ADD CONSTRAINT env_vars_application_id_fkey FOREIGN KEY (application_id) REFERENCES projects.applications(id) ON DELETE CASCADE;


--
-- Name: git_sources git_sources_application_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.git_sources
    ADD CONSTRAINT git_sources_application_id_fkey FOREIGN KEY (application_id) REFERENCES projects.applications(id) ON DELETE CASCADE;


--
-- Name: volumes volumes_application_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.volumes
    ADD CONSTRAINT volumes_application_id_fkey FOREIGN KEY (application_id) REFERENCES projects.applications(id) ON DELETE RESTRICT;


--
-- Name: volumes volumes_database_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.volumes
    ADD CONSTRAINT volumes_database_id_fkey FOREIGN KEY (database_id) REFERENCES projects.databases(id) ON DELETE RESTRICT;


--
-- Name: volumes volumes_project_id_fkey; Type: FK CONSTRAINT; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE ONLY projects.volumes
    ADD CONSTRAINT volumes_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects.projects(id) ON DELETE CASCADE;


--
-- Name: projects; Type: ROW SECURITY; Schema: projects; Owner: dockyard_projects
--

ALTER TABLE projects.projects ENABLE ROW LEVEL SECURITY;

--
-- Name: projects projects_delete_policy; Type: POLICY; Schema: projects; Owner: dockyard_projects
--

CREATE POLICY projects_delete_policy ON projects.projects FOR DELETE USING (((current_setting('app.all_projects'::text, true) = 'on'::text) OR (owner_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)));


--
-- Name: projects projects_insert_policy; Type: POLICY; Schema: projects; Owner: dockyard_projects
--

CREATE POLICY projects_insert_policy ON projects.projects FOR INSERT WITH CHECK (((current_setting('app.all_projects'::text, true) = 'on'::text) OR (owner_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)));


--
-- Name: projects projects_select_policy; Type: POLICY; Schema: projects; Owner: dockyard_projects
--

CREATE POLICY projects_select_policy ON projects.projects FOR SELECT USING (((current_setting('app.all_projects'::text, true) = 'on'::text) OR (owner_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid) OR (team_id IN ( SELECT team_members.team_id
   FROM projects.team_members
  WHERE (team_members.user_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)))));


--
-- Name: projects projects_update_policy; Type: POLICY; Schema: projects; Owner: dockyard_projects
--

CREATE POLICY projects_update_policy ON projects.projects FOR UPDATE USING (((current_setting('app.all_projects'::text, true) = 'on'::text) OR (owner_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid) OR (team_id IN ( SELECT team_members.team_id
   FROM projects.team_members
  WHERE (team_members.user_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)))));


--
-- Name: application_stats; Type: MATERIALIZED VIEW DATA; Schema: projects; Owner: dockyard_projects
--

REFRESH MATERIALIZED VIEW projects.application_stats;


--
-- PostgreSQL database dump complete
--

\unrestrict t4hCSyjNisuAjxoSeSyhk0oChOonNBzgJAcmqOce1vLTYIYhNxuG1rCSjT4FbR8

