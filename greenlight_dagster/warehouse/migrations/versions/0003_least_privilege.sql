-- raw.* is append-only by privilege: the loader inserts new versions and reads them, and may
-- neither change nor remove one (history is only trustworthy if nothing can rewrite it).
revoke update, delete, truncate on all tables in schema raw from greenlight_loader;
alter default privileges in schema raw revoke update, delete, truncate on tables from greenlight_loader;

-- The loader (the code location) reads what dbt builds: sync.* (push candidates), marts.* (mappings,
-- facts for the report). New schemas and tables get it by default privileges, for dbt's own login
-- (acting as greenlight_transformer) and for the migrating user (dbt locally).
alter default privileges for role greenlight_transformer grant usage on schemas to greenlight_loader;
alter default privileges for role greenlight_transformer grant select on tables to greenlight_loader;
alter default privileges grant usage on schemas to greenlight_loader;
alter default privileges grant select on tables to greenlight_loader;

-- What dbt built before this migration (incremental tables are not rebuilt, so default privileges
-- never reach them). Only the owner or a superuser may grant; anyone else leaves a notice.
do $$
declare
    name text;
begin
    foreach name in array array['staging', 'snapshots', 'marts', 'sync'] loop
        if exists (select from pg_namespace where nspname = name) then
            begin
                execute 'grant usage on schema ' || quote_ident(name) || ' to greenlight_loader';
                execute 'grant select on all tables in schema ' || quote_ident(name) || ' to greenlight_loader';
            exception when insufficient_privilege then
                -- no format placeholder: the driver reads a percent sign as a parameter marker
                raise notice using message = 'cannot grant greenlight_loader read access on schema ' || name
                                             || ': run this migration as its owner';
            end;
        end if;
    end loop;
end
$$;
