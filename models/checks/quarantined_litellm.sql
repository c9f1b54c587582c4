-- grain: one row per raw_litellm_spend row that staging leaves out (a token count above
-- 10,000,000 or a start time before 2000 or beyond tomorrow)
select request_id, start_time, prompt_tokens, completion_tokens, total_tokens, source_location
from raw_litellm_spend
where not (plausible_time(start_time)
    and plausible_tokens(prompt_tokens) and plausible_tokens(completion_tokens)
    and plausible_tokens(total_tokens) and plausible_tokens(cache_read_tokens)
    and plausible_tokens(cache_creation_tokens) and plausible_tokens(cache_write_5m_tokens)
    and plausible_tokens(cache_write_1h_tokens))
