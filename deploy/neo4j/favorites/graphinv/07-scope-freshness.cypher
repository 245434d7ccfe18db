// graphinv: freshness of every collection scope, failed and oldest first
MATCH (c:Collection)
RETURN c.uid AS scope, c.status AS status,
  duration.inSeconds(c.last_complete_finished, datetime()).minutes AS minutes_since_complete,
  c.finished AS last_run, c.written AS written, c.swept AS swept, c.error AS error
ORDER BY status = 'complete', c.last_complete_finished, scope
