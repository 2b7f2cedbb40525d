{#- ANALYZE `relation` if PostgreSQL has never gathered its statistics, else nothing. For the
    snapshots' post-hooks.

    A snapshot is created whole by one CREATE TABLE AS and autovacuum analyzes it only when its
    worker gets to it (on a busy machine: not before the next sync). Until then the planner
    guesses 0.5 % of rows for "dbt_valid_to is null", and dbt's merge (UPDATE ... FROM its
    unanalyzed staging table, guessed at a handful of rows) becomes a nested loop: every current
    row compared with every changed one - 46,000 x 464 tenants at `large`, 2.3 s of a run after a
    1 % change, against 15 ms as the hash join it is once the table has statistics. Analyzing on
    every run would cost the whole table each time (0.4 s for 300,000 work orders); once is
    enough, autovacuum keeps the statistics from then on. -#}
{% macro analyze_once(relation) -%}
    {%- if execute and relation is not none -%}
        {%- set never = run_query(
            "select coalesce(last_analyze, last_autoanalyze) is null from pg_stat_user_tables"
            ~ " where relid = to_regclass('" ~ relation ~ "')") -%}
        {%- if never.rows | length > 0 and never.rows[0][0] -%}
            analyze {{ relation }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
