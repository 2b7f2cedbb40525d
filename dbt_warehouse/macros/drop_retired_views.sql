{#- Views dbt built under an earlier name, dropped once nothing depends on them. For on-run-end.

    dbt never drops a relation it no longer builds, so a model that moves leaves its old view in
    a deployed warehouse, frozen, under a name a report may still read. These moved from staging
    to intermediate (decision 0019). Each view is dropped alone, never with CASCADE: while another
    object reads it - a user's view, or one of ours not yet rebuilt on the new name - it stays,
    with a notice, and a later build drops it. `if exists` makes the hook free on a warehouse that
    never had them. Readers come before what they read (the old work-order view read the old
    unit view; the bridge, the old lease view). -#}
{% macro drop_retired_views() -%}
    {%- set retired = [
        'stg_pw_work_order_changes', 'stg_pw_unit_changes', 'stg_pw_lease_changes', 'stg_pw_tenant_changes',
        'stg_pw_work_orders', 'stg_pw_lease_tenants', 'stg_pw_leases', 'stg_pw_units', 'stg_pw_tenants',
    ] -%}
    {%- if execute -%}
do $$
declare
    retired text;
begin
    foreach retired in array array['{{ retired | join("', '") }}'] loop
        begin
            execute 'drop view if exists staging.' || quote_ident(retired);
        exception
            when dependent_objects_still_exist or wrong_object_type or insufficient_privilege then
                raise notice using message = 'kept staging.' || retired || ': ' || sqlerrm;
        end;
    end loop;
end
$$
    {%- endif -%}
{%- endmacro %}
