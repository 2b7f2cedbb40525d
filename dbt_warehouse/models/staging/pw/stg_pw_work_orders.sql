-- Work orders, current state, with the unit routing rule applied (macro route_work_orders,
-- core/routing.py). A view over the incremental stg_pw_work_orders_latest, live keys only: a
-- building or unit change re-routes its work orders at once.
{{ route_work_orders("select * from " ~ ref('stg_pw_work_orders_latest') ~ " where not _is_deleted") }}
