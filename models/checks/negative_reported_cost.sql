-- grain: one row per stg_litellm row whose reported cost (LiteLLM's spend) is negative: the row
-- is kept as reported, its reported cost is flagged here
select event_id, request_id, reported_cost_usd
from stg_litellm
where reported_cost_usd < 0
