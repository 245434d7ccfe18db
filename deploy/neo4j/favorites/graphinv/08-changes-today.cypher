// graphinv: what changed today (published changes since midnight UTC, newest first)
MATCH (c:Change)
WHERE c.at >= datetime.truncate('day', datetime())
RETURN c.at AS at, c.kind AS kind, c.node_label AS label, coalesce(c.name, c.node_uid) AS node,
  c.property AS property, c.before AS before, c.after AS after, c.rel AS rel, c.other_uid AS other,
  c.provider AS provider, c.project AS project
ORDER BY at DESC
LIMIT 500
