-- dbt builds the push-candidate views in schema push_candidates now and never removes what it no
-- longer builds, so the old sync.* copies would go stale beside them. Each is dropped without
-- cascade: a view or report someone built on one keeps it (and so the schema), with a notice.
do $$
declare
    name text;
begin
    foreach name in array array['sync_sf_customer_creates', 'sync_sf_job_creates', 'sync_pw_progress_updates'] loop
        begin
            execute 'drop view if exists sync.' || quote_ident(name);
        exception
            when dependent_objects_still_exist then
                -- no format placeholder: the driver reads a percent sign as a parameter marker
                raise notice using message = 'kept sync.' || name || ': other objects depend on it';
            when wrong_object_type then
                raise notice using message = 'kept sync.' || name || ': not a view dbt built';
            when insufficient_privilege then
                raise notice using message = 'cannot drop sync.' || name || ': run this migration as its owner';
        end;
    end loop;
    begin
        drop schema if exists sync;
    exception
        when dependent_objects_still_exist then
            raise notice using message = 'kept schema sync: it still holds objects';
        when insufficient_privilege then
            raise notice using message = 'cannot drop schema sync: run this migration as its owner';
    end;
end
$$;
