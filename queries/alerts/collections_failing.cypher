// name: collections_failing
// description: Scopes whose last read failed, or whose last complete read is older than 6 hours.
//   Orphans in such scopes stay `unverified`, so this is what keeps the orphan alerts honest.
// severity: critical
// schedule: 30m
// key: scope
MATCH (c:Collection)
WHERE c.status <> 'running'
  AND (c.status = 'failed' OR c.last_complete_finished IS NULL
       OR c.last_complete_finished < datetime() - duration({hours: 6}))
RETURN c.uid AS scope, c.source AS source, c.kind AS kind, c.status AS status,
       c.last_complete_finished AS last_complete, c.error AS error
ORDER BY scope
