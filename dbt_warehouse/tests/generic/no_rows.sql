{#- A model that lists problems (an audit view) should be empty; each row is one to fix at its
    source. Used with severity warn: the problems are reported, the sync goes on. -#}
{% test no_rows(model) %}
    select * from {{ model }}
{% endtest %}
