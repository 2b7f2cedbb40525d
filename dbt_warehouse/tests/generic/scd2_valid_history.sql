{#- SCD Type 2 exactness per entity key: versions are contiguous and non-overlapping (each
    version ends exactly where the next begins), only the last version is open-ended, and
    exactly one version is current. Returns one row per offending version or key. -#}
{% test scd2_valid_history(model, key, valid_from='valid_from', valid_to='valid_to', is_current='is_current') %}
    with ordered as (
        select
            {{ key }} as entity_key,
            {{ valid_from }} as valid_from,
            {{ valid_to }} as valid_to,
            {{ is_current }} as is_current,
            lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_valid_from,
            row_number() over (partition by {{ key }} order by {{ valid_from }} desc) as recency
        from {{ model }}
    ),

    bad_versions as (
        select entity_key, 'version does not end where the next begins (gap or overlap)' as problem
        from ordered
        where next_valid_from is not null and valid_to is distinct from next_valid_from
        union all
        select entity_key, 'last version is not open-ended' as problem
        from ordered
        where recency = 1 and valid_to is not null
        union all
        select entity_key, 'empty or negative validity' as problem
        from ordered
        where valid_to is not null and valid_to <= valid_from
    ),

    bad_keys as (
        select entity_key, 'key does not have exactly one current version' as problem
        from ordered
        group by entity_key
        having count(*) filter (where is_current) <> 1
    )

    select * from bad_versions
    union all
    select * from bad_keys
{% endtest %}
