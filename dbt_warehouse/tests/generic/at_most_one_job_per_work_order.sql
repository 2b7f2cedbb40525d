{#- The sync's central invariant: at most one SF job per PW work order, ever. -#}
{% test at_most_one_job_per_work_order(model, column_name) %}
    select {{ column_name }}, count(*) as jobs
    from {{ model }}
    where {{ column_name }} is not null
    group by {{ column_name }}
    having count(*) > 1
{% endtest %}
