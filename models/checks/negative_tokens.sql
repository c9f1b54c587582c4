-- grain: one row per usage_events row with a negative (or NULL) token count
select event_id, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens
from usage_events
where coalesce(input_tokens, -1) < 0
   or coalesce(output_tokens, -1) < 0
   or coalesce(cache_read_tokens, -1) < 0
   or coalesce(cache_write_5m_tokens, -1) < 0
   or coalesce(cache_write_1h_tokens, -1) < 0
