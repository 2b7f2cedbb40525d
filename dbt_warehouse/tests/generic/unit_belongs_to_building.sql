{#- The corrected unit column never points outside its building: a non-null unit must be a
    unit of the row's building. Proves the staging correction, whatever the source sent. -#}
{% test unit_belongs_to_building(model, column_name, building_column, units) %}
    select rows.{{ column_name }}, rows.{{ building_column }}
    from {{ model }} as rows
    where rows.{{ column_name }} is not null
      and not exists (
          select 1 from {{ units }} as units
          where units.unit_id = rows.{{ column_name }}
            and units.building_id = rows.{{ building_column }}
      )
{% endtest %}
