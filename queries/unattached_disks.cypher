// name: unattached_disks
// description: Unattached disks of shoots that still exist. Not orphans (a volume of a scaled-down
//   workload, a detached PV), but worth a look when they are old; listed with their age.
// params: provider, account, project, cutoff
// index: Disk(attached) seek
MATCH (s:Shoot)-[:OWNS_DISK]->(d:Disk)
WHERE d.attached = false
  AND NOT EXISTS { (:Instance)-[:HAS_DISK]->(d) }
  AND ($provider IS NULL OR d.provider = $provider)
  AND ($account IS NULL OR d.account_id = $account)
  AND ($project IS NULL OR d.cluster STARTS WITH 'shoot--' + $project + '--')
WITH d, s, coalesce(d.created, d.first_seen) AS born
WHERE $cutoff IS NULL OR born <= $cutoff
// The last five columns: the orphan lifecycle's facts, kept on the resource (graphinv/history/lifecycle.py).
RETURN 'informational' AS verdict, 'unattached; its shoot ' + s.technical_id + ' exists' AS reason,
  'disk' AS kind, d.provider AS provider, d.uid AS uid, d.name AS name, d.account_id AS account,
  d.region AS region, d.zone AS zone, d.state AS state, d.cluster AS shoot, null AS instance_type,
  d.size_gb AS size_gb, d.disk_type AS disk_type, null AS address, born AS created, d.first_seen AS first_seen,
  d.lost_edge AS lost_edge, d.lost_edge_at AS lost_edge_at, d.orphan_since AS orphan_since,
  d.orphan_finding AS orphan_finding, d.last_detached AS last_detached
ORDER BY provider, account, uid
