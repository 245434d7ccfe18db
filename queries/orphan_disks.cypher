// name: orphan_disks
// description: Disks nobody needs: unattached disks whose shoot no longer exists, and disks attached
//   only to orphan VMs (pass the orphan instances' uids as $orphan_instances). Unattached disks of
//   live shoots are not orphans (see unattached_disks). A disk is `unverified` when its own scope or
//   the shoots were not read completely and recently, or when it is attached only to orphan and
//   unverified VMs (pass the latter as $unverified_instances) and at least one is unverified.
// params: provider, account, project, cutoff, fresh_after, orphan_instances, unverified_instances
// index: Disk(attached) seek; Instance(uid) seeks for the orphan VMs; Collection(uid) seeks
// A missing $fresh_after means: reads older than 6 hours prove nothing.
WITH coalesce($fresh_after, datetime() - duration({hours: 6})) AS fresh_after
// The shoots' last complete read is looked up once, not once per disk. The two parts cannot share a disk
// (the first has no HAS_DISK edge, the second one at least), so their rows need no DISTINCT (UNION ALL).
// Only Instances start HAS_DISK and only Shoots OWNS_DISK (tests/test_model_single_source.py), so the
// first part asks for a degree without naming the far end instead of visiting each edge's start node.
OPTIONAL MATCH (shoots:Collection {uid: 'gardener:garden:global:Shoot'})
WITH fresh_after, shoots.last_complete_started AS shoots_read
CALL (fresh_after, shoots_read) {
  MATCH (d:Disk)
  WHERE d.attached = false AND d.cluster IS NOT NULL
    AND NOT EXISTS { ()-[:HAS_DISK]->(d) }
    AND NOT EXISTS { ()-[:OWNS_DISK]->(d) }
  WITH d, coalesce(d.created, d.first_seen) AS born, shoots_read, fresh_after
  RETURN d, born, 'unattached and its shoot no longer exists' AS reason,
    CASE
      WHEN shoots_read IS NULL OR shoots_read < fresh_after
        THEN 'shoots were not read completely and recently'
      WHEN born >= shoots_read THEN 'the disk is newer than the last complete read of shoots'
    END AS doubt
  UNION ALL
  WITH coalesce($orphan_instances, []) AS orphans, coalesce($unverified_instances, []) AS doubtful
  UNWIND orphans + doubtful AS candidate
  MATCH (:Instance {uid: candidate})-[:HAS_DISK]->(d:Disk)
  WHERE NOT EXISTS { MATCH (other:Instance)-[:HAS_DISK]->(d) WHERE NOT other.uid IN orphans + doubtful }
  WITH DISTINCT d, doubtful
  RETURN d, coalesce(d.created, d.first_seen) AS born, 'attached only to orphan VMs' AS reason,
    CASE WHEN EXISTS { MATCH (i:Instance)-[:HAS_DISK]->(d) WHERE i.uid IN doubtful }
      THEN 'attached only to VMs that are orphans or could not be verified' END AS doubt
}
WITH d, born, reason, doubt, fresh_after
WHERE ($provider IS NULL OR d.provider = $provider)
  AND ($account IS NULL OR d.account_id = $account)
  AND ($project IS NULL OR d.cluster STARTS WITH 'shoot--' + $project + '--')
  AND ($cutoff IS NULL OR born <= $cutoff)
OPTIONAL MATCH (own:Collection {uid: d.scope})
WITH d, born, reason,
  CASE WHEN own.last_complete_started IS NULL OR own.last_complete_started < fresh_after
       THEN 'its own scope ' + d.scope + ' was not read completely and recently' ELSE doubt END AS doubt
// The last five columns: the orphan lifecycle's facts, kept on the resource (graphinv/history/lifecycle.py).
RETURN
  CASE WHEN doubt IS NULL THEN 'orphan' ELSE 'unverified' END AS verdict, coalesce(doubt, reason) AS reason,
  'disk' AS kind, d.provider AS provider, d.uid AS uid, d.name AS name, d.account_id AS account,
  d.region AS region, d.zone AS zone, d.state AS state, d.cluster AS shoot, null AS instance_type,
  d.size_gb AS size_gb, d.disk_type AS disk_type, null AS address, born AS created, d.first_seen AS first_seen,
  d.lost_edge AS lost_edge, d.lost_edge_at AS lost_edge_at, d.orphan_since AS orphan_since,
  d.orphan_finding AS orphan_finding, d.last_detached AS last_detached
ORDER BY provider, account, uid
