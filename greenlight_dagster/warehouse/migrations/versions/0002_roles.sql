-- Least-privilege group roles (NOLOGIN): grant them to login users, never log in as them.
--   greenlight_loader       the ingestion and push code: reads and writes raw.* and ops.*, creates nothing
--   greenlight_transformer  dbt: reads raw.* and ops.*, creates its own schemas (staging, snapshots, marts, sync)
--   greenlight_analyst      people and BI tools: reads everything, changes nothing
-- Roles are cluster-wide, so creation is idempotent (several databases may share a server), also when
-- another database's migration creates the same role at the same moment: its uncommitted role is invisible
-- to the check, and the create then fails on the unique name once that migration commits.
do $$
declare
    name text;
begin
    foreach name in array array['greenlight_loader', 'greenlight_transformer', 'greenlight_analyst'] loop
        if not exists (select from pg_roles where rolname = name) then
            begin
                execute 'create role ' || quote_ident(name) || ' nologin';
            exception when duplicate_object or unique_violation then
                null;  -- created by the concurrent migration: the role exists, which is all this step needs
            end;
        end if;
    end loop;
    -- quote_ident rather than format(): the driver reads a percent sign as a parameter marker
    execute 'grant connect on database ' || quote_ident(current_database())
            || ' to greenlight_loader, greenlight_transformer, greenlight_analyst';
    execute 'grant create on database ' || quote_ident(current_database()) || ' to greenlight_transformer';
end
$$;

grant usage on schema raw, ops to greenlight_loader, greenlight_transformer, greenlight_analyst;

grant select, insert, update, delete on all tables in schema raw, ops to greenlight_loader;
grant usage, select on all sequences in schema raw, ops to greenlight_loader;
grant select on all tables in schema raw, ops to greenlight_transformer, greenlight_analyst;

-- Tables later migrations add (created by the migrating user) get the same grants.
alter default privileges in schema raw, ops grant select, insert, update, delete on tables to greenlight_loader;
alter default privileges in schema raw, ops grant usage, select on sequences to greenlight_loader;
alter default privileges in schema raw, ops grant select on tables to greenlight_transformer, greenlight_analyst;

-- What dbt builds is readable by analysts, whether dbt runs as greenlight_transformer (production)
-- or as the migrating user (the local embedded server).
alter default privileges for role greenlight_transformer grant usage on schemas to greenlight_analyst;
alter default privileges for role greenlight_transformer grant select on tables to greenlight_analyst;
alter default privileges grant usage on schemas to greenlight_analyst;
alter default privileges grant select on tables to greenlight_analyst;
